/*  kontor - the command line for people and scripts.
 *
 *  For people (tables by default, --json for scripts):
 *      kontor clients     add, show, find, assign, terms
 *      kontor schedule    plan, done, week
 *      kontor complaints  open, move, resolve, list
 *      kontor plan        set, report
 *      kontor stock       SKU...: availability across warehouses
 *      kontor order       quote, place, show, list, approve, reject, cancel, return
 *      kontor shipments   list, show, update
 *      kontor receivables balance, aging, statement, pay, dunning
 *  For scripts and operators:
 *      kontor status                       every service, its workers, health and version
 *      kontor describe [SERVICE [METHOD]]  what can be called, field by field
 *      kontor call SERVICE METHOD [JSON]   any method, with a JSON request and reply
 *
 *  Connects to the bus named by KONTOR_BUS with the key in KONTOR_CERT
 *  (defaults: the local set in ./.kontor, as the admin principal). Exit
 *  codes: 0 done, 1 a refusal, 2 a usage error, 3 the bus could not be
 *  reached or did not answer in time. The commands live in kontor_*.c;
 *  this file only reads the command line: the options every command takes
 *  (--timeout, --key, --as, --json, --help), anywhere on the line; a
 *  command with options of its own (KONTOR_CMD_OWN_ARGS) gets the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.h"
#include "kontor_nearest.h"
#include "kontor_seed.h"
#include "kt_wire.h"

//  `kontor seed` (kontor_seed.c) reads its own command line, --as and
//  --timeout included: hand it back what main took out.
static int s_seed(const kontor_opts_t *opts)
{
    if (opts->key || opts->json)
        return kontor_usage_error("seed takes no %s (kontor seed --help)",
                                  opts->key ? "--key" : "--json");
    char timeout[16];
    char **argv = calloc((size_t)opts->argc + 7, sizeof *argv);
    if (!argv)
        return kontor_usage_error("out of memory");
    int argc = 0;
    argv[argc++] = (char *)"seed";
    for (int i = 0; i < opts->argc; i++)
        argv[argc++] = opts->argv[i];
    if (opts->as) {
        argv[argc++] = (char *)"--as";
        argv[argc++] = (char *)opts->as;
    }
    if (opts->timeout_ms > 0) {
        snprintf(timeout, sizeof timeout, "%d", opts->timeout_ms);
        argv[argc++] = (char *)"--timeout";
        argv[argc++] = timeout;
    }
    if (opts->help)
        argv[argc++] = (char *)"--help";
    int rc = kontor_seed_main(argc, argv);
    free(argv);
    return rc;
}

static const kontor_command_t s_seed_command = {
    "seed",
    "[--clients N] [--skus N] [--branches N] [--seed S] [--threads T]",
    "load a realistic data set of a given size through the services' own methods",
    "",
    s_seed,
    KONTOR_CMD_OWN_ARGS,
};

static const kontor_command_t *const s_commands[] = {
    &kontor_clients_command,   &kontor_schedule_command,    &kontor_complaints_command,
    &kontor_plan_command,      &kontor_stock_command,       &kontor_order_command,
    &kontor_shipments_command, &kontor_receivables_command, &s_seed_command,
    &kontor_status_command,    &kontor_describe_command,    &kontor_call_command,
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    fprintf(out, "usage: kontor [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", s_commands[i]->name, s_commands[i]->summary);
    fprintf(out, "\n"
                 "Options (before or after the command):\n"
                 "  --timeout MS     budget of each call (default KONTOR_TIMEOUT_MS, 5000)\n"
                 "  --key KEY        idempotency key for a write that must happen once\n"
                 "  --as PRINCIPAL   act as PRINCIPAL ($KONTOR_HOME/keys/secret/PRINCIPAL.secret)\n"
                 "  --json           print the reply as JSON instead of tables (for scripts)\n"
                 "  -h, --help       this text; `kontor COMMAND --help` for a command\n"
                 "\n"
                 "Connection comes from KONTOR_* variables (README.md); with none set, kontor\n"
                 "talks to the local set started by `make up`, as the admin principal.\n"
                 "Exit codes: 0 done, 1 refused, 2 usage error, 3 bus unreachable or too late.\n"
                 "\n"
                 "Money is typed as decimal text (1500.00) and printed as \"1500.00 EUR\";\n"
                 "dates are YYYY-MM-DD. A refusal prints STATUS: sentence (field) on stderr.\n"
                 "\n"
                 "examples:\n"
                 "  kontor clients show 42\n"
                 "  kontor order place --client 42 --line 1001:5 --line 1002:3 \\\n"
                 "      --delivery 2026-12-01 --method own-fleet --key ord-42-1\n"
                 "  kontor receivables pay --client 42 --amount 1500.00 --reference PAY-77\n"
                 "  kontor stock 1001 1002\n"
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
    static const char *const options[] = {"--timeout", "--key", "--as", "--json", "--help"};
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
        else if (strcmp(arg, "--json") == 0)
            opts.json = true;
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
        } else if (arg[0] == '-' && arg[1] != '\0' && command && s_lookup(command) &&
                   (s_lookup(command)->flags & KONTOR_CMD_OWN_ARGS))
            args[nargs++] = argv[i]; //  the command's own flag: it checks it
        else if (arg[0] == '-' && arg[1] != '\0') {
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
        //  "kontor help [COMMAND [SUBCOMMAND]]" as "kontor [COMMAND [SUBCOMMAND]] --help"
        help = true;
        command = nargs > 0 ? args[0] : NULL;
        if (nargs > 0)
            memmove(args, args + 1, (size_t)nargs-- * sizeof *args);
    }
    const kontor_command_t *cmd = command ? s_lookup(command) : NULL;
    if (command && !cmd) {
        kontor_nearest_t near;
        kontor_nearest_init(&near, command);
        for (size_t k = 0; k < S_NCOMMANDS; k++)
            kontor_nearest_add(&near, s_commands[k]->name);
        rc = kontor_usage_error("unknown command '%s'; did you mean '%s'? (kontor --help)", command,
                                near.best);
    } else if (opts.json && cmd == &kontor_describe_command) {
        rc = kontor_usage_error("describe prints text only; for JSON: kontor call SERVICE "
                                "Describe");
    } else if (help && cmd && (cmd->flags & KONTOR_CMD_OWN_ARGS)) {
        opts.help = true;
        opts.argc = nargs;
        opts.argv = args;
        rc = cmd->run(&opts);
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
