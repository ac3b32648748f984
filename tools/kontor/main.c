/*  kontor - the command line for people and scripts.
 *
 *      kontor status                       every service, its workers, health and version
 *      kontor describe [SERVICE [METHOD]]  what can be called, field by field
 *      kontor call SERVICE METHOD [JSON]   any method, with a JSON request and reply
 *
 *  Connects to the bus named by KONTOR_BUS with the key in KONTOR_CERT
 *  (defaults: the local set in ./.kontor, as the admin principal). Exit
 *  codes: 0 done, 1 a refusal, 2 a usage error, 3 the bus could not be
 *  reached or did not answer in time. The commands live in kontor_*.c;
 *  this file only reads the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.h"
#include "kontor_nearest.h"
#include "kt_wire.h"

static const kontor_command_t *const s_commands[] = {
    &kontor_status_command,
    &kontor_describe_command,
    &kontor_call_command,
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    fprintf(out, "usage: kontor [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        fprintf(out, "  %-9s %s\n", s_commands[i]->name, s_commands[i]->summary);
    fprintf(out, "\n"
                 "Options (before or after the command):\n"
                 "  --timeout MS     budget of each call (default KONTOR_TIMEOUT_MS, 5000)\n"
                 "  --key KEY        idempotency key for a write that must happen once\n"
                 "  --as PRINCIPAL   act as PRINCIPAL ($KONTOR_HOME/keys/secret/PRINCIPAL.secret)\n"
                 "  -h, --help       this text; `kontor COMMAND --help` for a command\n"
                 "\n"
                 "Connection comes from KONTOR_* variables (README.md); with none set, kontor\n"
                 "talks to the local set started by `make up`, as the admin principal.\n"
                 "Exit codes: 0 done, 1 refused, 2 usage error, 3 bus unreachable or too late.\n"
                 "\n"
                 "examples:\n"
                 "  kontor status\n"
                 "  kontor describe orders\n"
                 "  kontor call orders Status\n");
}

static void s_command_help(const kontor_command_t *cmd)
{
    printf("usage: kontor [OPTIONS] %s%s%s\n\n%s\n\n%s", cmd->name, cmd->args[0] ? " " : "",
           cmd->args, cmd->summary, cmd->help);
}

static const kontor_command_t *s_lookup(const char *name)
{
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        if (strcmp(s_commands[i]->name, name) == 0)
            return s_commands[i];
    return NULL;
}

//  The value of an option taking one ("--timeout 300" or "--timeout=300").
static const char *s_option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, len) != 0)
        return NULL;
    if (arg[len] == '=')
        return arg + len + 1;
    if (arg[len] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        return "";
    return argv[++*i];
}

int main(int argc, char **argv)
{
    static const char *const options[] = {"--timeout", "--key", "--as", "--help"};
    kontor_opts_t opts = {.timeout_ms = 0};
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return KONTOR_EXIT_USAGE;
    const char *command = NULL;
    bool help = false;
    int nargs = 0, rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--") == 0) {
            //  Everything after is an argument, even "-x".
            while (++i < argc) {
                if (!command)
                    command = argv[i];
                else
                    args[nargs++] = argv[i];
            }
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
            help = true;
        else if ((value = s_option_value(argc, argv, &i, "--timeout"))) {
            char *end = NULL;
            long ms = strtol(value, &end, 10);
            if (!*value || *end || ms < 1 || ms > KONTOR_TIMEOUT_MAX_MS)
                rc = kontor_usage_error("--timeout needs milliseconds from 1 to %d, not '%s'",
                                        KONTOR_TIMEOUT_MAX_MS, value);
            opts.timeout_ms = (int)ms;
        } else if ((value = s_option_value(argc, argv, &i, "--key"))) {
            if (!*value || strlen(value) > KT_KEY_MAX)
                rc = kontor_usage_error("--key needs an idempotency key of 1 to %d bytes",
                                        KT_KEY_MAX);
            opts.key = value;
        } else if ((value = s_option_value(argc, argv, &i, "--as"))) {
            if (!*value)
                rc = kontor_usage_error("--as needs a principal's name, e.g. --as manager-1");
            opts.as = value;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            kontor_nearest_t near;
            kontor_nearest_init(&near, arg);
            for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
                kontor_nearest_add(&near, options[k]);
            rc = kontor_usage_error("unknown option '%s'; did you mean '%s'?", arg, near.best);
        } else if (!command)
            command = arg;
        else
            args[nargs++] = argv[i];
    }
    if (rc >= 0) {
        free(args);
        return rc;
    }
    if (command && strcmp(command, "help") == 0) {
        //  "kontor help [COMMAND]" as "kontor [COMMAND] --help"
        help = true;
        command = nargs > 0 ? args[0] : NULL;
    }
    const kontor_command_t *cmd = command ? s_lookup(command) : NULL;
    if (command && !cmd) {
        kontor_nearest_t near;
        kontor_nearest_init(&near, command);
        for (size_t k = 0; k < S_NCOMMANDS; k++)
            kontor_nearest_add(&near, s_commands[k]->name);
        rc = kontor_usage_error("unknown command '%s'; did you mean '%s'? (kontor --help)", command,
                                near.best);
    } else if (help) {
        if (cmd)
            s_command_help(cmd);
        else
            s_usage(stdout);
        rc = KONTOR_EXIT_OK;
    } else if (!cmd) {
        s_usage(stderr);
        rc = KONTOR_EXIT_USAGE;
    } else {
        opts.argc = nargs;
        opts.argv = args;
        rc = cmd->run(&opts);
    }
    free(args);
    return rc;
}
