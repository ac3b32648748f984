/*  kontor_people - subcommands, typed flags, calls and tables for the
 *  commands for people (see kontor_people.h).
 */
#include "kontor_people.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kontor_nearest.h"
#include "kt_money.h"
#include "kt_status.h"
#include "kt_validate.h"

#define S_NAME_MAX  64 //  bytes of a flag's or an enum value's name
#define S_LABEL_W   18 //  width of the labels of kp_field
#define S_SEPARATOR 2  //  spaces between table columns

typedef struct {
    char name[S_NAME_MAX]; //  without "--"
    const char *value;     //  NULL for a switch
} s_flag_t;

struct kp_ctx {
    const kontor_opts_t *opts;
    const kp_family_t *family;
    const kp_sub_t *sub;
    char **args; //  positional arguments after the subcommand (borrowed)
    int nargs;
    s_flag_t flags[KP_FLAGS_MAX];
    int nflags;
    kontor_t k; //  the connection, once kp_call made it
    bool connected;
    char currency[4];         //  kp_currency's upper-cased value
    char key[KT_KEY_MAX + 1]; //  a made-up idempotency key
};

//  ---------------------------------------------------------------- the flag list of a subcommand

//  Look `name` up in a subcommand's flag list ("client= line=* json").
//  Returns true if listed, with whether it takes a value and may repeat.
static bool s_spec(const char *flags, const char *name, bool *takes_value, bool *repeats)
{
    size_t len = strlen(name);
    const char *p = flags;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, "= ");
        if (n == len && strncmp(p, name, len) == 0) {
            *takes_value = p[n] == '=';
            *repeats = *takes_value && p[n + 1] == '*';
            return true;
        }
        p += strcspn(p, " ");
    }
    return false;
}

//  The spec's flag names one by one, as "--name", into buf; returns the
//  position after it, or NULL at the end.
static const char *s_spec_next(const char *p, char *buf, size_t size)
{
    while (p && *p == ' ')
        p++;
    if (!p || !*p)
        return NULL;
    size_t n = strcspn(p, "= ");
    snprintf(buf, size, "--%.*s", (int)n, p);
    return p + strcspn(p, " ");
}

//  ---------------------------------------------------------------- help

static void s_family_help(const kp_family_t *f, FILE *out)
{
    fprintf(out, "usage: kontor [OPTIONS] %s SUBCOMMAND [ARGS] [FLAGS]\n\n%s\n\nSubcommands:\n",
            f->name, f->intro);
    for (const kp_sub_t *s = f->subs; s->name; s++)
        fprintf(out, "  %-12s %s\n", s->name, s->summary);
    fprintf(out,
            "\n"
            "Every subcommand also takes --json (print the reply as JSON, for scripts),\n"
            "--as PRINCIPAL, --key KEY and --timeout MS (see kontor --help).\n"
            "`kontor %s SUBCOMMAND --help` explains its flags, with an example.\n",
            f->name);
}

static void s_sub_help(const kp_family_t *f, const kp_sub_t *s)
{
    printf("usage: kontor [OPTIONS] %s %s%s%s\n\n%s\n\n%s", f->name, s->name,
           s->usage[0] ? " " : "", s->usage, s->summary, s->help);
    printf("\nAlso: --json prints the reply as JSON; --as PRINCIPAL acts as another principal.\n");
}

//  ---------------------------------------------------------------- running a family

static bool s_is_number(const char *s)
{
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s == '.' || *s == ':') {
        s++;
        while (isdigit((unsigned char)*s) || *s == ':' || *s == '.')
            s++;
    }
    return *s == '\0';
}

static const kp_sub_t *s_lookup(const kp_family_t *f, const char *name)
{
    for (const kp_sub_t *s = f->subs; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

//  Split the arguments into flags (checked against the subcommand's list)
//  and positional arguments. Returns 0 or an exit code after saying why.
static int s_parse(kp_ctx_t *c, int argc, char **argv)
{
    const kp_sub_t *sub = c->sub;
    c->args = calloc((size_t)argc + 1, sizeof *c->args);
    if (!c->args)
        return kontor_usage_error("out of memory");
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || s_is_number(arg) || strcmp(arg, "-") == 0) {
            if (c->nargs >= sub->max_args) {
                if (sub->max_args == 0)
                    return kp_usage(c, "%s %s takes no arguments, only flags: unexpected '%s'",
                                    c->family->name, sub->name, arg);
                return kp_usage(c, "%s %s takes at most %d argument%s: unexpected '%s'",
                                c->family->name, sub->name, sub->max_args,
                                sub->max_args == 1 ? "" : "s", arg);
            }
            c->args[c->nargs++] = argv[i];
            continue;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        size_t len = strcspn(name, "=");
        char flag[S_NAME_MAX];
        snprintf(flag, sizeof flag, "%.*s", (int)(len < S_NAME_MAX - 1 ? len : S_NAME_MAX - 1),
                 name);
        bool takes_value = false, repeats = false;
        if (arg[1] != '-' || len >= S_NAME_MAX - 1 ||
            !s_spec(sub->flags, flag, &takes_value, &repeats)) {
            kontor_nearest_t near;
            kontor_nearest_init(&near, arg);
            char names[KP_FLAGS_MAX][S_NAME_MAX + 2];
            int n = 0;
            for (const char *p = s_spec_next(sub->flags, names[0], sizeof names[0]);
                 p && n < KP_FLAGS_MAX; p = s_spec_next(p, names[n], sizeof names[n]))
                kontor_nearest_add(&near, names[n++]);
            if (!near.best)
                return kp_usage(c, "%s %s takes no flags: unknown option '%s'", c->family->name,
                                sub->name, arg);
            return kp_usage(c, "unknown option '%s' for %s %s; did you mean '%s'?", arg,
                            c->family->name, sub->name, near.best);
        }
        const char *value = NULL;
        if (name[len] == '=') {
            if (!takes_value)
                return kp_usage(c, "--%s is a switch and takes no value", flag);
            value = name + len + 1;
        } else if (takes_value) {
            if (i + 1 >= argc)
                return kp_usage(c, "--%s needs a value", flag);
            value = argv[++i];
        }
        if (!repeats)
            for (int k = 0; k < c->nflags; k++)
                if (strcmp(c->flags[k].name, flag) == 0)
                    return kp_usage(c, "--%s is given twice", flag);
        if (c->nflags >= KP_FLAGS_MAX)
            return kp_usage(c, "more than %d flags", KP_FLAGS_MAX);
        snprintf(c->flags[c->nflags].name, S_NAME_MAX, "%s", flag);
        c->flags[c->nflags].value = value;
        c->nflags++;
    }
    return 0;
}

int kp_family_run(const kp_family_t *family, const kontor_opts_t *opts)
{
    if (opts->argc == 0) {
        if (opts->help) {
            s_family_help(family, stdout);
            return KONTOR_EXIT_OK;
        }
        s_family_help(family, stderr);
        return KONTOR_EXIT_USAGE;
    }
    const char *name = opts->argv[0];
    const kp_sub_t *sub = s_lookup(family, name);
    int first = 1;
    if (!sub && family->default_sub && (s_is_number(name) || name[0] == '-')) {
        sub = s_lookup(family, family->default_sub);
        first = 0;
    }
    if (!sub) {
        kontor_nearest_t near;
        kontor_nearest_init(&near, name);
        for (const kp_sub_t *s = family->subs; s->name; s++)
            kontor_nearest_add(&near, s->name);
        return kontor_usage_error("unknown %s subcommand '%s'; did you mean '%s'? (kontor %s "
                                  "--help)",
                                  family->name, name, near.best, family->name);
    }
    if (opts->help) {
        s_sub_help(family, sub);
        return KONTOR_EXIT_OK;
    }
    kp_ctx_t *c = calloc(1, sizeof *c);
    if (!c)
        return kontor_usage_error("out of memory");
    c->opts = opts;
    c->family = family;
    c->sub = sub;
    int rc = s_parse(c, opts->argc - first, opts->argv + first);
    if (rc == 0)
        rc = sub->run(c);
    if (c->connected)
        kontor_disconnect(&c->k);
    free(c->args);
    free(c);
    fflush(stdout);
    return rc;
}

int kp_usage(kp_ctx_t *c, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(stderr, "kontor: %s (kontor %s %s --help)\n", what, c->family->name, c->sub->name);
    return KONTOR_EXIT_USAGE;
}

//  ---------------------------------------------------------------- reading flags

int kp_count(kp_ctx_t *c, const char *name)
{
    int n = 0;
    for (int i = 0; i < c->nflags; i++)
        n += strcmp(c->flags[i].name, name) == 0;
    return n;
}

const char *kp_nth(kp_ctx_t *c, const char *name, int nth)
{
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, name) == 0 && nth-- == 0)
            return c->flags[i].value ? c->flags[i].value : "";
    return NULL;
}

int kp_nargs(const kp_ctx_t *c)
{
    return c->nargs;
}

const char *kp_arg(const kp_ctx_t *c, int i)
{
    return i >= 0 && i < c->nargs ? c->args[i] : NULL;
}

bool kp_json(const kp_ctx_t *c)
{
    return c->opts->json;
}

bool kp_switch(kp_ctx_t *c, const char *name)
{
    return kp_nth(c, name, 0) != NULL;
}

//  The value of --name, or the positional argument `pos`; NULL if neither.
//  *shown is how to name it in a message.
static const char *s_value(kp_ctx_t *c, const char *name, int pos, char *shown, size_t size)
{
    const char *v = kp_nth(c, name, 0);
    if (v || pos < 0 || pos >= c->nargs) {
        snprintf(shown, size, "--%s", name);
        return v;
    }
    snprintf(shown, size, "--%s (argument %d)", name, pos + 1);
    return c->args[pos];
}

//  Absent: 0, or a usage error when required. `what` says what is needed.
static int s_absent(kp_ctx_t *c, const char *name, int pos, bool required, const char *what)
{
    if (!required)
        return 0;
    if (pos >= 0)
        kp_usage(c, "%s %s needs %s: --%s %s or as argument %d", c->family->name, c->sub->name,
                 what, name, what, pos + 1);
    else
        kp_usage(c, "%s %s needs --%s %s", c->family->name, c->sub->name, name, what);
    return -1;
}

//  A whole number, all of the text, within int64.
static bool s_parse_i64(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end)
        return false;
    *out = v;
    return true;
}

int kp_text(kp_ctx_t *c, const char *name, int pos, bool required, const char **out)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, pos, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, pos, required, "TEXT");
    if (!kt_utf8_valid(v, strlen(v))) {
        kp_usage(c, "%s is not valid UTF-8", shown);
        return -1;
    }
    *out = v;
    return 1;
}

int kp_id(kp_ctx_t *c, const char *name, int pos, bool required, int64_t *out)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, pos, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, pos, required, "ID");
    int64_t id;
    if (!s_parse_i64(v, &id) || id <= 0) {
        kp_usage(c, "%s needs an id (a whole number above 0), not '%s'", shown, v);
        return -1;
    }
    *out = id;
    return 1;
}

int kp_int(kp_ctx_t *c, const char *name, int64_t min, int64_t max, bool required, int64_t *out)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, -1, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, -1, required, "N");
    int64_t n;
    if (!s_parse_i64(v, &n) || n < min || n > max) {
        kp_usage(c, "%s needs a whole number from %" PRId64 " to %" PRId64 ", not '%s'", shown, min,
                 max, v);
        return -1;
    }
    *out = n;
    return 1;
}

int kp_money(kp_ctx_t *c, const char *name, bool required, int64_t *units)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, -1, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, -1, required, "AMOUNT");
    if (kt_money_parse(v, units) != 0) {
        kp_usage(c,
                 "%s needs an amount like 1500.00 (digits, at most two decimals after a "
                 "point), not '%s'",
                 shown, v);
        return -1;
    }
    return 1;
}

int kp_percent(kp_ctx_t *c, const char *name, bool required, int32_t *bp)
{
    char shown[S_NAME_MAX + 32], text[32];
    const char *v = s_value(c, name, -1, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, -1, required, "PERCENT");
    size_t len = strlen(v);
    if (len > 0 && v[len - 1] == '%')
        len--;
    int64_t units;
    snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text - 1 ? len : sizeof text - 1), v);
    //  Two decimals of a percent are basis points: "3.5" is 350.
    if (len >= sizeof text || kt_money_parse(text, &units) != 0 || units < 0 || units > 10000) {
        kp_usage(c,
                 "%s needs a percentage from 0 to 100 with at most two decimals (3.5), "
                 "not '%s'",
                 shown, v);
        return -1;
    }
    *bp = (int32_t)units;
    return 1;
}

int kp_currency(kp_ctx_t *c, const char *name, bool required, const char **out)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, -1, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, -1, required, "CUR");
    if (strlen(v) != 3 || !isalpha((unsigned char)v[0]) || !isalpha((unsigned char)v[1]) ||
        !isalpha((unsigned char)v[2])) {
        kp_usage(c, "%s needs a currency code of three letters (EUR), not '%s'", shown, v);
        return -1;
    }
    for (int i = 0; i < 3; i++)
        c->currency[i] = (char)toupper((unsigned char)v[i]);
    c->currency[3] = '\0';
    *out = c->currency;
    return 1;
}

int kp_date(kp_ctx_t *c, const char *name, int pos, bool required, const char **out)
{
    char shown[S_NAME_MAX + 32], why[256];
    const char *v = s_value(c, name, pos, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, pos, required, "YYYY-MM-DD");
    int32_t days;
    if (kt_check_date(shown, v, &days, why, sizeof why) != 0) {
        kp_usage(c, "%s needs a date YYYY-MM-DD: %s", shown, why);
        return -1;
    }
    *out = v;
    return 1;
}

int kp_month(kp_ctx_t *c, const char *name, bool required, const char **out)
{
    char shown[S_NAME_MAX + 32];
    const char *v = s_value(c, name, -1, shown, sizeof shown);
    if (!v)
        return s_absent(c, name, -1, required, "YYYY-MM");
    if (strlen(v) != 7 || v[4] != '-' || strspn(v, "0123456789") != 4 ||
        !isdigit((unsigned char)v[5]) || !isdigit((unsigned char)v[6]) || atoi(v + 5) < 1 ||
        atoi(v + 5) > 12) {
        kp_usage(c, "%s needs a month YYYY-MM, not '%s'", shown, v);
        return -1;
    }
    *out = v;
    return 1;
}

int kp_line(kp_ctx_t *c, const char *name, int i, int64_t *sku, int64_t *qty, int32_t *third)
{
    const char *v = kp_nth(c, name, i);
    if (!v)
        return 0;
    char buf[96];
    snprintf(buf, sizeof buf, "%s", v);
    char *q = strchr(buf, ':');
    char *d = q ? strchr(q + 1, ':') : NULL;
    if (q)
        *q++ = '\0';
    if (d)
        *d++ = '\0';
    int64_t bp = 0;
    bool ok = q && strlen(v) < sizeof buf - 1 && s_parse_i64(buf, sku) && *sku > 0 &&
              s_parse_i64(q, qty) && *qty > 0;
    if (ok && d) {
        size_t len = strlen(d);
        if (len > 0 && d[len - 1] == '%')
            d[len - 1] = '\0';
        ok = third && kt_money_parse(d, &bp) == 0 && bp >= 0 && bp <= 10000;
    }
    if (!ok) {
        if (third)
            kp_usage(c,
                     "--%s needs SKU:QTY or SKU:QTY:DISCOUNT%% (1001:5, 1001:5:2.5), both "
                     "whole numbers above 0, not '%s'",
                     name, v);
        else
            kp_usage(c, "--%s needs SKU:QTY (1001:5), both whole numbers above 0, not '%s'", name,
                     v);
        return -1;
    }
    if (third)
        *third = (int32_t)bp;
    return 1;
}

//  ---------------------------------------------------------------- enums by friendly names

//  Whether a value is the "nothing chosen" one.
static bool s_unspecified(const ProtobufCEnumValue *v)
{
    size_t len = strlen(v->name);
    return len >= 11 && strcmp(v->name + len - 11, "UNSPECIFIED") == 0;
}

//  Length of the prefix every chosen value's name shares, ending at '_' and
//  shorter than each name ("COMPLAINT_" of COMPLAINT_OPEN, ...).
static size_t s_enum_prefix(const ProtobufCEnumDescriptor *ed)
{
    const char *first = NULL;
    size_t common = 0;
    unsigned chosen = 0;
    for (unsigned i = 0; i < ed->n_values; i++) {
        const char *name = ed->values[i].name;
        if (s_unspecified(&ed->values[i]))
            continue;
        chosen++;
        if (!first) {
            first = name;
            common = strlen(name);
            continue;
        }
        size_t k = 0;
        while (k < common && name[k] == first[k])
            k++;
        common = k;
    }
    if (!first || chosen < 2)
        return 0;
    while (common > 0 && first[common - 1] != '_')
        common--;
    return common;
}

static void s_friendly(char *buf, size_t size, const char *name, size_t skip)
{
    size_t n = 0;
    for (const char *p = name + skip; *p && n + 1 < size; p++)
        buf[n++] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    buf[n] = '\0';
}

char *kp_enum_name(char *buf, const ProtobufCEnumDescriptor *ed, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(ed, value);
    if (!v)
        snprintf(buf, KP_TEXT_MAX, "%d", value);
    else if (s_unspecified(v))
        snprintf(buf, KP_TEXT_MAX, "-");
    else
        s_friendly(buf, KP_TEXT_MAX, v->name, s_enum_prefix(ed));
    return buf;
}

void kp_enum_list(const ProtobufCEnumDescriptor *ed, char *buf, size_t size)
{
    size_t skip = s_enum_prefix(ed), used = 0;
    unsigned total = 0, k = 0;
    for (unsigned i = 0; i < ed->n_values; i++)
        total += !s_unspecified(&ed->values[i]);
    buf[0] = '\0';
    for (unsigned i = 0; i < ed->n_values && used < size; i++) {
        if (s_unspecified(&ed->values[i]))
            continue;
        char name[S_NAME_MAX];
        s_friendly(name, sizeof name, ed->values[i].name, skip);
        k++;
        const char *sep = k == 1 ? "" : k == total ? " or " : ", ";
        int n = snprintf(buf + used, size - used, "%s%s", sep, name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int kp_enum(kp_ctx_t *c, const char *name, int pos, const ProtobufCEnumDescriptor *ed,
            bool required, int *out)
{
    char shown[S_NAME_MAX + 32], list[512];
    const char *v = s_value(c, name, pos, shown, sizeof shown);
    if (!v) {
        if (!required)
            return 0;
        kp_enum_list(ed, list, sizeof list);
        kp_usage(c, "%s %s needs --%s: %s", c->family->name, c->sub->name, name, list);
        return -1;
    }
    char want[S_NAME_MAX];
    size_t n = 0;
    for (const char *p = v; *p && n + 1 < sizeof want; p++)
        want[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    want[n] = '\0';
    size_t skip = s_enum_prefix(ed);
    char(*names)[S_NAME_MAX] = calloc(ed->n_values + 1, sizeof *names);
    if (!names) {
        kp_usage(c, "out of memory");
        return -1;
    }
    kontor_nearest_t near;
    kontor_nearest_init(&near, v);
    int rc = -1;
    for (unsigned i = 0; i < ed->n_values; i++) {
        const ProtobufCEnumValue *ev = &ed->values[i];
        if (s_unspecified(ev))
            continue;
        if (strlen(v) < S_NAME_MAX &&
            (strcmp(ev->name, want) == 0 || strcmp(ev->name + skip, want) == 0)) {
            *out = ev->value;
            rc = 1;
            break;
        }
        s_friendly(names[i], S_NAME_MAX, ev->name, skip);
        kontor_nearest_add(&near, names[i]);
    }
    if (rc < 0) {
        kp_enum_list(ed, list, sizeof list);
        kp_usage(c, "%s: unknown value '%s'; did you mean '%s'? (one of %s)", shown, v,
                 near.best ? near.best : "", list);
    }
    free(names);
    return rc;
}

//  ---------------------------------------------------------------- calling

int kp_exit(int status)
{
    return kontor_exit_for(status);
}

int kp_print_json(const ProtobufCMessage *msg)
{
    return kontor_print_json(msg) == 0 ? KONTOR_EXIT_OK : KONTOR_EXIT_USAGE;
}

int kp_call(kp_ctx_t *c, const char *service, const char *method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *reply_desc, kp_kind_t kind, ProtobufCMessage **out)
{
    *out = NULL;
    if (!c->connected) {
        int rc = kontor_connect(&c->k, c->opts);
        if (rc != 0) {
            kontor_disconnect(&c->k);
            return rc;
        }
        c->connected = true;
    }
    const char *key = c->opts->key;
    if (kind == KP_WRITE_ONCE && !key) {
        //  A key of our own, said before the call: if the answer is lost,
        //  the same command with it cannot do the thing twice.
        char id[40];
        kt_request_id_new(id);
        snprintf(c->key, sizeof c->key, "kontor-%s-%s-%.16s", c->family->name, c->sub->name, id);
        key = c->key;
        fprintf(stderr,
                "kontor: idempotency key %s (to retry without doing it twice, add --key %s)\n", key,
                key);
    }
    kt_call_opts_t copts = {
        .timeout_ms = c->k.timeout_ms, .retry = kind != KP_WRITE, .idem_key = key};
    kt_reply_t reply;
    int status = kt_client_call(c->k.client, service, method, req, reply_desc, out, &copts, &reply);
    if (status != KT_OK) {
        //  Figures first (stdout, for scripts), then the sentence.
        if (*out && c->opts->json)
            kontor_print_json(*out);
        fflush(stdout);
        kontor_print_refusal(&reply);
    }
    kt_reply_clear(&reply);
    return kontor_exit_for(status);
}

//  ---------------------------------------------------------------- tables

struct kp_table {
    int ncols;
    char **head;  //  ncols headers (without '>')
    bool *right;  //  right-aligned columns
    char **cells; //  row-major
    size_t ncells, cap;
};

static void *s_need(void *p)
{
    if (!p) {
        fprintf(stderr, "kontor: out of memory\n");
        exit(KONTOR_EXIT_USAGE);
    }
    return p;
}

kp_table_t *kp_table_new(const char *first, ...)
{
    kp_table_t *t = s_need(calloc(1, sizeof *t));
    va_list ap;
    va_start(ap, first);
    for (const char *h = first; h; h = va_arg(ap, const char *))
        t->ncols++;
    va_end(ap);
    t->head = s_need(calloc((size_t)t->ncols, sizeof *t->head));
    t->right = s_need(calloc((size_t)t->ncols, sizeof *t->right));
    va_start(ap, first);
    int i = 0;
    for (const char *h = first; h; h = va_arg(ap, const char *), i++) {
        size_t len = strlen(h);
        t->right[i] = len > 0 && h[len - 1] == '>';
        t->head[i] = s_need(strndup(h, t->right[i] ? len - 1 : len));
    }
    va_end(ap);
    return t;
}

void kp_table_cell(kp_table_t *t, const char *fmt, ...)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = s_need(realloc(t->cells, t->cap * sizeof *t->cells));
    }
    va_list ap;
    va_start(ap, fmt);
    char *cell = NULL;
    if (vasprintf(&cell, fmt, ap) < 0)
        cell = NULL;
    va_end(ap);
    t->cells[t->ncells++] = s_need(cell);
}

int kp_table_rows(const kp_table_t *t)
{
    return t->ncols ? (int)(t->ncells / (size_t)t->ncols) : 0;
}

//  Characters on screen: UTF-8 sequences count once.
static size_t s_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void s_print_row(const kp_table_t *t, FILE *out, int indent, char *const *cells,
                        const size_t *width)
{
    fprintf(out, "%*s", indent, "");
    for (int i = 0; i < t->ncols; i++) {
        size_t w = s_width(cells[i]);
        size_t pad = width[i] > w ? width[i] - w : 0;
        bool last = i == t->ncols - 1;
        if (t->right[i])
            fprintf(out, "%*s%s", (int)pad, "", cells[i]);
        else
            fprintf(out, "%s%*s", cells[i], last ? 0 : (int)pad, "");
        if (!last)
            fprintf(out, "%*s", S_SEPARATOR, "");
    }
    fprintf(out, "\n");
}

void kp_table_print(kp_table_t **self_p, FILE *out, int indent, const char *empty)
{
    kp_table_t *t = *self_p;
    if (!t)
        return;
    //  A row left unfinished is finished with blanks.
    while (t->ncols && t->ncells % (size_t)t->ncols)
        kp_table_cell(t, "%s", "");
    int rows = kp_table_rows(t);
    if (rows == 0) {
        if (empty)
            fprintf(out, "%*s%s\n", indent, "", empty);
    } else {
        size_t *width = s_need(calloc((size_t)t->ncols, sizeof *width));
        for (int i = 0; i < t->ncols; i++)
            width[i] = s_width(t->head[i]);
        for (size_t k = 0; k < t->ncells; k++) {
            size_t w = s_width(t->cells[k]);
            int col = (int)(k % (size_t)t->ncols);
            if (w > width[col])
                width[col] = w;
        }
        s_print_row(t, out, indent, t->head, width);
        for (int r = 0; r < rows; r++)
            s_print_row(t, out, indent, t->cells + (size_t)r * (size_t)t->ncols, width);
        free(width);
    }
    for (size_t k = 0; k < t->ncells; k++)
        free(t->cells[k]);
    for (int i = 0; i < t->ncols; i++)
        free(t->head[i]);
    free(t->cells);
    free(t->head);
    free(t->right);
    free(t);
    *self_p = NULL;
}

void kp_field(const char *label, const char *fmt, ...)
{
    char value[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    char head[S_NAME_MAX + 2];
    snprintf(head, sizeof head, "%s:", label);
    printf("  %-*s %s\n", S_LABEL_W, head, value);
}

//  ---------------------------------------------------------------- formatting

char *kp_fmt_units(char *buf, int64_t units, const char *currency)
{
    return kt_money_format(units, currency, buf, KP_TEXT_MAX);
}

char *kp_fmt_money(char *buf, const Kontor__Money *m)
{
    if (!m) {
        snprintf(buf, KP_TEXT_MAX, "-");
        return buf;
    }
    return kt_money_format(m->units, m->currency, buf, KP_TEXT_MAX);
}

char *kp_fmt_time(char *buf, int64_t ms)
{
    if (ms <= 0) {
        snprintf(buf, KP_TEXT_MAX, "-");
        return buf;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, KP_TEXT_MAX, "%Y-%m-%dT%H:%MZ", &tm);
    return buf;
}

char *kp_fmt_bp(char *buf, int64_t bp)
{
    char num[32];
    kt_money_format(bp, NULL, num, sizeof num);
    snprintf(buf, KP_TEXT_MAX, "%s%%", num);
    return buf;
}

char *kp_fmt_id(char *buf, int64_t id)
{
    if (id == 0)
        snprintf(buf, KP_TEXT_MAX, "-");
    else
        snprintf(buf, KP_TEXT_MAX, "%" PRId64, id);
    return buf;
}

const char *kp_or_dash(const char *s)
{
    return s && *s ? s : "-";
}

void kp_today(char buf[11], int days_ahead)
{
    int32_t days = (int32_t)(time(NULL) / 86400) + days_ahead;
    int y, m, d;
    kt_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
}
