/*  kontor-keygen - create a CURVE key pair for a principal.
 *
 *      kontor-keygen [--public DIR] [--secret DIR] NAME KIND [MANAGER_ID]
 *
 *  Writes DIR/NAME.cert (public key and the principal's name, kind and
 *  manager id; this file is what the bus's allow-list folder holds) and
 *  DIR/NAME.secret (mode 0600; give it only to the party it names). Prints
 *  the allow-list line. Never prints the secret key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_auth.h"
#include "kt_config.h"
#include "kt_log.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: kontor-keygen [--public DIR] [--secret DIR] NAME KIND [MANAGER_ID]\n"
            "\n"
            "Creates a CURVE key pair for a principal. KIND is one of: manager, head,\n"
            "service, logistics-system, admin, accountant, logistician. Managers and\n"
            "heads carry their manager id from the clients service.\n"
            "\n"
            "  --public DIR   where NAME.cert goes (default: $KONTOR_HOME/keys/allow,\n"
            "                 the bus's allow-list: the key works once it is there)\n"
            "  --secret DIR   where NAME.secret goes, mode 0600 (default:\n"
            "                 $KONTOR_HOME/keys/secret)\n"
            "\n"
            "example: kontor-keygen manager-7 manager 7\n");
}

int main(int argc, char **argv)
{
    kt_log_init("keygen", KT_LOG_WARN);
    kt_config_t cfg;
    char why[256];
    if (kt_config_load(&cfg, "keygen", why, sizeof why) != 0) {
        fprintf(stderr, "kontor-keygen: %s\n", why);
        return 2;
    }
    char public_dir[KT_PATH_MAX], secret_dir[KT_PATH_MAX + 16];
    snprintf(public_dir, sizeof public_dir, "%s", cfg.keys_dir);
    snprintf(secret_dir, sizeof secret_dir, "%s/keys/secret", cfg.home);
    const char *positional[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if ((strcmp(argv[i], "--public") == 0 || strcmp(argv[i], "--secret") == 0)
                   && i + 1 < argc) {
            char *dst = argv[i][2] == 'p' ? public_dir : secret_dir;
            snprintf(dst, KT_PATH_MAX, "%s", argv[++i]);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "kontor-keygen: unknown option '%s'\n", argv[i]);
            s_usage(stderr);
            return 2;
        } else if (npos < 3) {
            positional[npos++] = argv[i];
        } else {
            fprintf(stderr, "kontor-keygen: too many arguments\n");
            return 2;
        }
    }
    if (npos < 2) {
        s_usage(stderr);
        return 2;
    }
    int kind = kt_kind_from_name(positional[1]);
    if (kind < 0) {
        fprintf(stderr, "kontor-keygen: unknown kind '%s'\n", positional[1]);
        return 2;
    }
    long long manager_id = 0;
    if (positional[2]) {
        char *end;
        manager_id = strtoll(positional[2], &end, 10);
        if (*end || manager_id <= 0) {
            fprintf(stderr, "kontor-keygen: manager id must be a positive number: '%s'\n",
                    positional[2]);
            return 2;
        }
    }
    if (kt_keygen(public_dir, secret_dir, positional[0], kind, manager_id) != 0)
        return 1;
    char path[KT_PATH_MAX + 64], key[41];
    snprintf(path, sizeof path, "%s/%s.cert", public_dir, positional[0]);
    if (kt_cert_public_key(path, key) != 0)
        return 1;
    printf("%s %s %s %lld  (%s)\n", positional[0], positional[1], key, manager_id, path);
    return 0;
}
