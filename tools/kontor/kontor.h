/*  kontor - what the command line's commands share.
 *
 *  Each command is a kontor_command_t: the ones for scripts (kontor_status.c,
 *  kontor_call.c, kontor_describe.c) and the ones for people (kontor_clients.c,
 *  kontor_orders.c, kontor_logistics.c, kontor_receivables.c, built on
 *  kontor_people.h). main.c parses the options common to all of them and runs
 *  one. kontor_conn.c connects to the bus and finds services and methods,
 *  answering a wrong name with the nearest right one.
 *
 *  Exit codes, the same for every command: 0 done, 1 the service refused
 *  (STATUS: sentence (field) on stderr), 2 a usage error (the command line,
 *  a name, the request JSON), 3 the bus could not be reached or the
 *  deadline passed.
 */
#ifndef KONTOR_H
#define KONTOR_H

#include <stdbool.h>

#include "kontor.pb-c.h"
#include "kt_client.h"
#include "kt_config.h"

#define KONTOR_EXIT_OK          0
#define KONTOR_EXIT_REFUSED     1
#define KONTOR_EXIT_USAGE       2
#define KONTOR_EXIT_UNREACHABLE 3

#define KONTOR_TIMEOUT_MAX_MS 600000 //  the longest budget a request may carry

//  The command line, once main.c has taken the options out.
typedef struct {
    int timeout_ms;  //  --timeout MS; 0: KONTOR_TIMEOUT_MS (5 s)
    const char *key; //  --key: idempotency key, or NULL
    const char *as;  //  --as: the principal to act as, or NULL
    bool json;       //  --json: print the reply as JSON instead of tables
    bool help;       //  --help given to a command with KONTOR_CMD_OWN_ARGS
    int argc;        //  the command's arguments, options removed
    char **argv;
} kontor_opts_t;

//  kontor_command_t.flags: KONTOR_CMD_OWN_ARGS, the command takes options of
//  its own (main passes them through) and answers --help itself.
#define KONTOR_CMD_OWN_ARGS 0x1

typedef struct {
    const char *name;    //  "call"
    const char *args;    //  "SERVICE METHOD [JSON | -]"
    const char *summary; //  one line for `kontor --help`
    const char *help;    //  the rest of `kontor COMMAND --help`, examples included
    int (*run)(const kontor_opts_t *opts); //  returns the exit code
    unsigned flags;                        //  KONTOR_CMD_*
} kontor_command_t;

extern const kontor_command_t kontor_status_command;
extern const kontor_command_t kontor_call_command;
extern const kontor_command_t kontor_describe_command;
//  Commands for people: subcommands with flags, tables or --json.
extern const kontor_command_t kontor_clients_command;
extern const kontor_command_t kontor_schedule_command;
extern const kontor_command_t kontor_complaints_command;
extern const kontor_command_t kontor_plan_command;
extern const kontor_command_t kontor_stock_command;
extern const kontor_command_t kontor_shipments_command;
extern const kontor_command_t kontor_order_command;
extern const kontor_command_t kontor_receivables_command;

//  A connection to the bus, as the principal the options name.
typedef struct {
    kt_config_t cfg;
    kt_client_t *client;
    int timeout_ms; //  budget of each call
} kontor_t;

//  Connect: configuration from KONTOR_* (the local set's admin by default),
//  --as, --timeout. Returns 0, or an exit code after saying why on stderr.
int kontor_connect(kontor_t *self, const kontor_opts_t *opts);

//  Disconnect; safe on a kontor_t that did not connect.
void kontor_disconnect(kontor_t *self);

//  Print "kontor: <sentence>" on stderr; returns KONTOR_EXIT_USAGE.
int kontor_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

//  The exit code for a reply's status (not OK).
int kontor_exit_for(int status);

//  "STATUS: sentence (field)" and the hint, if any, on stderr.
void kontor_print_refusal(const kt_reply_t *reply);

//  The bus's Status into *out (free with kt_msg_free). Returns 0 or an exit
//  code after printing why.
int kontor_bus_status(kontor_t *self, Kontor__BusStatusReply **out);

//  Check that `service` is the bus or a service with live workers. Returns
//  0, or an exit code after printing why: a name nothing answers to (with
//  the nearest known one) is a usage error; a known service with no live
//  worker is unreachable.
int kontor_resolve_service(kontor_t *self, const char *service);

//  The methods of `service` (its Describe; the bus's are built in) into
//  *out (free with kt_msg_free). Returns 0 or an exit code after printing why.
int kontor_describe_service(kontor_t *self, const char *service, Kontor__DescribeReply **out);

//  The method named `method`, or NULL after printing the nearest one.
const Kontor__MethodInfo *kontor_find_method(const Kontor__DescribeReply *methods,
                                             const char *method);

//  The JSON text of a message (pretty) on stdout; returns 0, or -1 when out
//  of memory (said on stderr).
int kontor_print_json(const ProtobufCMessage *msg);

#endif
