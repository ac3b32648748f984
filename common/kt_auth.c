/*  kt_auth - CURVE keys, principals, and who may call what.
 */
#include "kt_auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_log.h"

static const char *s_kind_names[KT_KIND_COUNT] = {
    [KT_KIND_NONE] = "none",
    [KT_KIND_MANAGER] = "manager",
    [KT_KIND_HEAD] = "head",
    [KT_KIND_SERVICE] = "service",
    [KT_KIND_LOGISTICS_SYSTEM] = "logistics-system",
    [KT_KIND_ADMIN] = "admin",
    [KT_KIND_ACCOUNTANT] = "accountant",
    [KT_KIND_LOGISTICIAN] = "logistician",
};

const char *kt_kind_name(int kind)
{
    if (kind < 0 || kind >= KT_KIND_COUNT)
        return "none";
    return s_kind_names[kind];
}

int kt_kind_from_name(const char *name)
{
    for (int k = 1; k < KT_KIND_COUNT; k++)
        if (strcmp(name, s_kind_names[k]) == 0)
            return k;
    return -1;
}

//  Principal names are file names and log values: keep them plain.
static bool s_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

static int s_mkdir(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0 || errno == EEXIST)
        return 0;
    kt_error("cannot create folder %s: %s", dir, strerror(errno));
    return -1;
}

int kt_keygen(const char *public_dir, const char *secret_dir, const char *name, int kind,
              int64_t manager_id)
{
    if (!s_name_ok(name)) {
        kt_error("principal name must be 1 to 63 of a-z, 0-9, '-' and '_'");
        return -1;
    }
    if (kind <= KT_KIND_NONE || kind >= KT_KIND_COUNT) {
        kt_error("principal kind is not known: %d", kind);
        return -1;
    }
    if (s_mkdir(public_dir, 0755) != 0 || s_mkdir(secret_dir, 0700) != 0)
        return -1;
    char pub[1024], sec[1024];
    snprintf(pub, sizeof pub, "%s/%s.cert", public_dir, name);
    snprintf(sec, sizeof sec, "%s/%s.secret", secret_dir, name);
    if (access(pub, F_OK) == 0 || access(sec, F_OK) == 0) {
        kt_error("a key for %s exists already; remove it first to replace it", name);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        kt_error("cannot create a key pair");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "kind", "%s", kt_kind_name(kind));
    zcert_set_meta(cert, "manager-id", "%lld", (long long) manager_id);
    int rc = -1;
    //  Create the secret file 0600 before anything is written into it, so the
    //  secret is never readable by others, not even for an instant.
    mode_t old = umask(077);
    if (zcert_save_secret(cert, sec) != 0) {
        umask(old);
        kt_error("cannot write %s", sec);
        goto cleanup;
    }
    umask(old);
    chmod(sec, 0600);
    if (zcert_save_public(cert, pub) != 0) {
        kt_error("cannot write %s", pub);
        unlink(sec);
        goto cleanup;
    }
    chmod(pub, 0644);
    rc = 0;
cleanup:
    zcert_destroy(&cert);
    return rc;
}

zcert_t *kt_cert_load_secret(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        kt_error("cannot read key %s: %s", path, strerror(errno));
        return NULL;
    }
    //  As ssh does with its keys: a secret others can read is no secret.
    if (st.st_mode & 077) {
        kt_error("key %s may be read by others (mode %03o); chmod 600 it", path,
                 (unsigned) (st.st_mode & 0777));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        kt_error("cannot load key %s", path);
        return NULL;
    }
    //  A public certificate loads too, with an all-zero secret: refuse it.
    static const char zero_z85[] = "0000000000000000000000000000000000000000";
    if (strcmp(zcert_secret_txt(cert), zero_z85) == 0) {
        kt_error("key %s holds no secret key", path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

int kt_cert_public_key(const char *path, char key[41])
{
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        kt_error("cannot load certificate %s", path);
        return -1;
    }
    snprintf(key, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

void kt_curve_client(zsock_t *sock, zcert_t *cert, const char *server_key)
{
    zcert_apply(cert, sock);
    zsock_set_curve_serverkey(sock, server_key);
}

//  ---------------------------------------------------------------- principals

static void s_principal_destroy(void **item)
{
    free(*item);
    *item = NULL;
}

struct kt_principals {
    char dir[1024];             //  the allow-list folder
    zhashx_t *by_key;           //  public key -> kt_principal_t (owned)
    char signature[64];         //  what the folder looked like at the last read
};

kt_principals_t *kt_principals_new(const char *dir)
{
    kt_principals_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->by_key = zhashx_new();
    if (!self->by_key) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_key, s_principal_destroy);
    return self;
}

void kt_principals_destroy(kt_principals_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kt_principals_t *self = *self_p;
    zhashx_destroy(&self->by_key);
    free(self);
    *self_p = NULL;
}

//  A cheap fingerprint of the folder: names, sizes and change times of its
//  files, hashed. Changes whenever a key is added, removed or rewritten.
static int s_signature(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    uint64_t h = 1469598103934665603ULL, count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        //  Order-independent: sum of per-file hashes.
        uint64_t f = 1469598103934665603ULL;
        for (const char *p = e->d_name; *p; p++)
            f = (f ^ (unsigned char) *p) * 1099511628211ULL;
        f ^= (uint64_t) st.st_size * 31 + (uint64_t) st.st_mtim.tv_sec * 1000003
             + (uint64_t) st.st_mtim.tv_nsec + (uint64_t) st.st_ino * 7;
        h += f * 1099511628211ULL;
        count++;
    }
    closedir(d);
    snprintf(out, size, "%016llx-%llu", (unsigned long long) h, (unsigned long long) count);
    return 0;
}

static int s_load(kt_principals_t *self, zhashx_t *into)
{
    DIR *d = opendir(self->dir);
    if (!d)
        return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".cert") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", self->dir, e->d_name);
        zcert_t *cert = zcert_load(path);
        if (!cert) {
            kt_warn("skipping unreadable certificate %s", path);
            continue;
        }
        const char *name = zcert_meta(cert, "name");
        const char *kind = zcert_meta(cert, "kind");
        const char *mid = zcert_meta(cert, "manager-id");
        int k = kind ? kt_kind_from_name(kind) : -1;
        if (!name || !s_name_ok(name) || k < 0) {
            kt_warn("skipping certificate %s: it names no valid principal", path);
            zcert_destroy(&cert);
            continue;
        }
        kt_principal_t *p = calloc(1, sizeof *p);
        if (!p) {
            zcert_destroy(&cert);
            closedir(d);
            return -1;
        }
        snprintf(p->name, sizeof p->name, "%s", name);
        p->kind = k;
        p->manager_id = mid ? strtoll(mid, NULL, 10) : 0;
        snprintf(p->key, sizeof p->key, "%s", zcert_public_txt(cert));
        zhashx_update(into, p->key, p);
        zcert_destroy(&cert);
        n++;
    }
    closedir(d);
    return n;
}

int kt_principals_refresh(kt_principals_t *self)
{
    char sig[64];
    if (s_signature(self->dir, sig, sizeof sig) != 0) {
        kt_warn("cannot read the allow-list folder %s: %s; keeping %zu known keys", self->dir,
                strerror(errno), zhashx_size(self->by_key));
        return -1;
    }
    if (strcmp(sig, self->signature) == 0)
        return (int) zhashx_size(self->by_key);
    zhashx_t *fresh = zhashx_new();
    if (!fresh)
        return -1;
    zhashx_set_destructor(fresh, s_principal_destroy);
    int n = s_load(self, fresh);
    if (n < 0) {
        zhashx_destroy(&fresh);
        return -1;
    }
    zhashx_destroy(&self->by_key);
    self->by_key = fresh;
    snprintf(self->signature, sizeof self->signature, "%s", sig);
    kt_info("allow-list loaded: %d principals from %s", n, self->dir);
    return n;
}

const kt_principal_t *kt_principals_lookup(kt_principals_t *self, const char *key)
{
    return key ? zhashx_lookup(self->by_key, key) : NULL;
}
