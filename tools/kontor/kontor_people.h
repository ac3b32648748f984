/*  kontor_people - what the commands for people share: subcommands, flags,
 *  calls, tables.
 *
 *  A command for people ("kontor order place --client 42 --line 1001:5") is
 *  a family (kp_family_t: "order") of subcommands (kp_sub_t: "place"), each
 *  declaring the flags it takes. kp_family_run finds the subcommand (a wrong
 *  name gets the nearest right one), checks every flag against that list
 *  (the same), and runs it with a context (kp_ctx_t) from which it reads
 *  typed values: an id, an amount of money, a date, an enum by a friendly
 *  name ("own-fleet" for OWN_FLEET). A value of the wrong type is a usage
 *  error naming the flag (exit 2) before anything is sent.
 *
 *  kp_call sends the request through the same connection code as `kontor
 *  call` (kontor_connect, kt_client_call), with the principal of --as, the
 *  idempotency key of --key (or one it makes up and prints, for a write
 *  that must happen once), and prints a refusal as STATUS: sentence (field)
 *  on stderr. Replies print as aligned tables (kp_table_t), or as JSON with
 *  --json.
 */
#ifndef KONTOR_PEOPLE_H
#define KONTOR_PEOPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kontor.h"
#include "kt_wire.h"

#define KP_FLAGS_MAX 64 //  flags on one command line
#define KP_TEXT_MAX  64 //  bytes of a formatted cell (money, dates) in kp_fmt_*

typedef struct kp_ctx kp_ctx_t;

//  One subcommand of a family.
typedef struct {
    const char *name;    //  "place"
    const char *usage;   //  "--client ID --line SKU:QTY... [OPTIONS]"
    const char *summary; //  one line, for the family's list
    //  The flags it takes, space-separated, without "--": "client" is a
    //  switch, "client=" takes a value, "line=*" takes one and may repeat.
    const char *flags;
    int max_args;            //  positional arguments it takes, at most
    const char *help;        //  flags explained and an example, for --help
    int (*run)(kp_ctx_t *c); //  returns the exit code
} kp_sub_t;

//  A family of subcommands: one command of the command line.
typedef struct {
    const char *name;        //  "order"
    const char *intro;       //  what the family is about, for --help
    const kp_sub_t *subs;    //  ends with a NULL name
    const char *default_sub; //  run when the first argument is no subcommand
                             //  but a number ("kontor stock 1001"), or NULL
} kp_family_t;

//  Run the family for a command line (main.c's kontor_opts_t): the
//  subcommand, its --help, or a usage error. Returns the exit code.
int kp_family_run(const kp_family_t *family, const kontor_opts_t *opts);

//  ---------------------------------------------------------------- reading flags
//
//  Each reader looks for --NAME and, when `pos` >= 0 and the flag is not
//  given, for the positional argument of that index ("kontor order show 17"
//  as "--order 17"). They return 1 when the value was read into *out, 0 when
//  it is absent and `required` is false (*out untouched), -1 after printing
//  a usage error that names the flag (absent but required, or malformed).

int kp_text(kp_ctx_t *c, const char *name, int pos, bool required, const char **out);
//  An id: a whole number above 0.
int kp_id(kp_ctx_t *c, const char *name, int pos, bool required, int64_t *out);
//  A whole number in [min, max].
int kp_int(kp_ctx_t *c, const char *name, int64_t min, int64_t max, bool required, int64_t *out);
//  An amount as decimal text ("1500.00", "-3.5", "12") into minor units.
int kp_money(kp_ctx_t *c, const char *name, bool required, int64_t *units);
//  A percentage with up to two decimals ("3.5", "3.5%") in [0, 100], as
//  basis points.
int kp_percent(kp_ctx_t *c, const char *name, bool required, int32_t *bp);
//  A currency: three letters, upper-cased into the context (borrowed).
int kp_currency(kp_ctx_t *c, const char *name, bool required, const char **out);
//  A date YYYY-MM-DD that exists.
int kp_date(kp_ctx_t *c, const char *name, int pos, bool required, const char **out);
//  A month YYYY-MM.
int kp_month(kp_ctx_t *c, const char *name, bool required, const char **out);
//  A value of a protobuf enum by a friendly name: case does not matter, '-'
//  stands for '_', and the prefix the values share may be left out
//  ("in-progress" for COMPLAINT_IN_PROGRESS). The UNSPECIFIED value is
//  never accepted.
int kp_enum(kp_ctx_t *c, const char *name, int pos, const ProtobufCEnumDescriptor *ed,
            bool required, int *out);
//  A switch: true when given.
bool kp_switch(kp_ctx_t *c, const char *name);

//  How many times --NAME was given, and its i-th value.
int kp_count(kp_ctx_t *c, const char *name);
const char *kp_nth(kp_ctx_t *c, const char *name, int i);

//  "SKU:QTY" (and, when `third` is not NULL, an optional ":PCT" discount
//  into *third as basis points) from the i-th --NAME. 0 or -1 as above.
int kp_line(kp_ctx_t *c, const char *name, int i, int64_t *sku, int64_t *qty, int32_t *third);

//  Positional arguments (after the subcommand).
int kp_nargs(const kp_ctx_t *c);
const char *kp_arg(const kp_ctx_t *c, int i);

//  True when --json was given.
bool kp_json(const kp_ctx_t *c);

//  A usage error about this subcommand: "kontor: <sentence>" on stderr.
//  Returns KONTOR_EXIT_USAGE.
int kp_usage(kp_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  ---------------------------------------------------------------- calling

typedef enum {
    KP_READ,         //  changes nothing: resent on silence
    KP_WRITE,        //  not resent: a retry could do it twice
    KP_WRITE_ONCE,   //  needs an idempotency key (--key, or one made up and
                     //  printed); resent on silence under it
    KP_WRITE_REPEAT, //  safe to repeat by its own nature (a payment's bank
                     //  reference, a status already set): resent on silence
} kp_kind_t;

//  Call service.method, connecting first if need be. Returns KT_OK with the
//  reply in *out (free with kt_msg_free); or the status after printing the
//  refusal (STATUS: sentence (field) on stderr, and in --json mode any
//  figures it carries as JSON on stdout), with those figures, if any, in
//  *out for the caller to print readably.
int kp_call(kp_ctx_t *c, const char *service, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *reply_desc, kp_kind_t kind, ProtobufCMessage **out);

//  The exit code for a kp_call status; also prints usage-error hints.
int kp_exit(int status);

//  Print a reply as JSON on stdout (--json). Returns the exit code.
int kp_print_json(const ProtobufCMessage *msg);

//  The warehouse of --warehouse (an id, or a code looked up in logistics);
//  when not given, the warehouse of the client's branch (from its terms),
//  else the central one, else the only one. `where` gets how to name it
//  ("warehouse N1 (1)"). Returns 0, or an exit code after saying why.
//  (kontor_logistics.c)
int kp_warehouse(kp_ctx_t *c, int64_t client_id, int64_t *id, char *where, size_t size);

//  ---------------------------------------------------------------- printing

//  A table: columns with headers, rows of text, printed with aligned columns.
//  A header ending in '>' is right-aligned (money, counts); the '>' is not
//  printed.
typedef struct kp_table kp_table_t;

//  New table with the column headers that follow, NULL-terminated. Aborts
//  when out of memory (a command line tool has nothing better to do).
kp_table_t *kp_table_new(const char *first, ...);
//  Add a cell to the current row (printf-style); a row ends after as many
//  cells as there are columns.
void kp_table_cell(kp_table_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
//  Rows added so far.
int kp_table_rows(const kp_table_t *self);
//  Print to `out` with `indent` spaces in front, then destroy; a table with
//  no row prints `empty` (if not NULL) instead. Accepts NULL; nulls the pointer.
void kp_table_print(kp_table_t **self_p, FILE *out, int indent, const char *empty);

//  "label:  value" lines with aligned labels.
void kp_field(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Formatting into a caller's buffer of KP_TEXT_MAX bytes; each returns it.
//  Money "1234.56 EUR" (an absent message: "-").
char *kp_fmt_money(char *buf, const Kontor__Money *m);
char *kp_fmt_units(char *buf, int64_t units, const char *currency);
//  A Unix time in ms as ISO 8601 UTC "2026-12-01T09:30Z" (0: "-").
char *kp_fmt_time(char *buf, int64_t ms);
//  Basis points as a percentage: "3.50%".
char *kp_fmt_bp(char *buf, int64_t bp);
//  An id, or "-" for 0.
char *kp_fmt_id(char *buf, int64_t id);
//  A string, or "-" when empty (borrowed or `buf`).
const char *kp_or_dash(const char *s);

//  The friendly name of an enum value into `buf`: lower case, '-' for '_',
//  without the prefix the values share ("in-progress"); "-" for an
//  UNSPECIFIED value, the number for an unknown one.
char *kp_enum_name(char *buf, const ProtobufCEnumDescriptor *ed, int value);

//  The friendly names of an enum's values, "a, b or c", for help and errors.
void kp_enum_list(const ProtobufCEnumDescriptor *ed, char *buf, size_t size);

//  Today (UTC) as YYYY-MM-DD, and a number of days from it.
void kp_today(char buf[11], int days_ahead);

#endif
