/*  kt_auth - CURVE keys, principals, and who may call what.
 *
 *  Every party on the bus has a CURVE key pair kept as two CZMQ certificate
 *  files: a public one (in the bus's allow-list folder, with metadata naming
 *  the principal) and a secret one (mode 0600, read only by its owner). The
 *  bus authenticates handshakes against the allow-list with zauth, then maps
 *  the caller's public key (the message's User-Id) to a principal and stamps
 *  it onto the request, so a worker knows who is calling without trusting the
 *  payload. docs/security.md has the whole model.
 */
#ifndef KT_AUTH_H
#define KT_AUTH_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  Principal kinds; numbers match proto/kontor.proto's PrincipalKind.
typedef enum {
    KT_KIND_NONE = 0,
    KT_KIND_MANAGER = 1,
    KT_KIND_HEAD = 2,
    KT_KIND_SERVICE = 3,
    KT_KIND_LOGISTICS_SYSTEM = 4,
    KT_KIND_ADMIN = 5,
    KT_KIND_ACCOUNTANT = 6,
    KT_KIND_LOGISTICIAN = 7,
} kt_kind_t;

#define KT_KIND_COUNT 8

//  Role masks for method tables: which kinds may call a method.
#define KT_ROLE(k)        (1u << (k))
#define KT_ROLE_MANAGER   KT_ROLE(KT_KIND_MANAGER)
#define KT_ROLE_HEAD      KT_ROLE(KT_KIND_HEAD)
#define KT_ROLE_SERVICE   KT_ROLE(KT_KIND_SERVICE)
#define KT_ROLE_LOGSYS    KT_ROLE(KT_KIND_LOGISTICS_SYSTEM)
#define KT_ROLE_ADMIN     KT_ROLE(KT_KIND_ADMIN)
#define KT_ROLE_ACCOUNTANT KT_ROLE(KT_KIND_ACCOUNTANT)
#define KT_ROLE_LOGISTICIAN KT_ROLE(KT_KIND_LOGISTICIAN)
#define KT_ROLE_STAFF     (KT_ROLE_MANAGER | KT_ROLE_HEAD | KT_ROLE_ADMIN | KT_ROLE_ACCOUNTANT \
                           | KT_ROLE_LOGISTICIAN)
#define KT_ROLE_ANY       (KT_ROLE_STAFF | KT_ROLE_SERVICE | KT_ROLE_LOGSYS)

//  Who is calling: stamped by the bus, read by workers.
typedef struct {
    char name[64];          //  "manager-7", "orders", "wms-north"
    int kind;               //  kt_kind_t
    int64_t manager_id;     //  managers and heads: their id in the clients service
    char key[41];           //  public key, Z85
} kt_principal_t;

//  Name of a kind ("manager", "head", "service", "logistics-system", "admin",
//  "accountant", "logistician"), and back (-1 if unknown).
const char *kt_kind_name(int kind);
int kt_kind_from_name(const char *name);

//  Create a key pair for a principal: writes `<public_dir>/<name>.cert` (public
//  key and metadata) and `<secret_dir>/<name>.secret` (mode 0600). Refuses to
//  overwrite existing files. Returns 0, or -1 with errno-style reason logged.
int kt_keygen(const char *public_dir, const char *secret_dir, const char *name, int kind,
              int64_t manager_id);

//  Load this process's secret certificate. NULL if missing or unreadable.
zcert_t *kt_cert_load_secret(const char *path);

//  Read the public key (Z85, 40 chars + NUL) from a public certificate file.
int kt_cert_public_key(const char *path, char key[41]);

//  Make `sock` a CURVE client of a server whose public key is `server_key`,
//  using `cert` as its own key pair. Call before connect.
void kt_curve_client(zsock_t *sock, zcert_t *cert, const char *server_key);

//  The set of allowed principals, read from the allow-list folder and reloaded
//  when a file in it changes (kt_principals_refresh), so revocation needs no
//  restart. Used by the bus.
typedef struct kt_principals kt_principals_t;

kt_principals_t *kt_principals_new(const char *dir);
void kt_principals_destroy(kt_principals_t **self_p);

//  Re-read the folder if anything in it changed since the last read. Returns
//  the number of principals now allowed, or -1 if the folder is unreadable
//  (the previous set is kept).
int kt_principals_refresh(kt_principals_t *self);

//  The principal for a public key, or NULL if the key is not (or no longer) allowed.
const kt_principal_t *kt_principals_lookup(kt_principals_t *self, const char *key);

#endif
