/*  kontor_json - JSON <-> protobuf-c messages through their descriptors.
 *
 *  json-c parses and prints the text; this file maps its values onto the
 *  fields a descriptor lists. json-c saturates an integer literal beyond 64
 *  bits silently (18446744073709551616 reads as UINT64_MAX), so the text is
 *  scanned for such literals after parsing and they are refused by position:
 *  no field can hold them, and no value may change on its way in.
 */
#include "kontor_json.h"

#include <ctype.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor_nearest.h"
#include "kt_validate.h"

#define S_EXACT_LIMIT (INT64_C(1) << 53) //  beyond, a JSON number may not survive a double
#define S_GOT_MAX     60                 //  bytes of an offending value quoted in an error
#define S_FLOAT_LIMIT 0x1.ffffffp+127    //  the least double that rounds to float infinity

//  ---------------------------------------------------------------- reading: context and errors

typedef struct {
    kontor_json_error_t *err;
    char path[KONTOR_JSON_FIELD_MAX]; //  where the reader is: "lines[1].qty"
    size_t path_len;
    bool failed; //  the first error is kept; the rest unwind
} s_reader_t;

static size_t s_path_add(s_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Append to the path; returns the length to go back to with s_path_back.
static size_t s_path_add(s_reader_t *r, const char *fmt, ...)
{
    size_t mark = r->path_len;
    size_t room = sizeof r->path - mark;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->path + mark, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->path_len = (size_t)n < room ? mark + (size_t)n : sizeof r->path - 1;
    return mark;
}

static void s_path_back(s_reader_t *r, size_t mark)
{
    r->path_len = mark;
    r->path[mark] = '\0';
}

static void s_fail(s_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

//  Record the first error, prefixed by the path it happened at.
static void s_fail(s_reader_t *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->err->field, sizeof r->err->field, "%s", r->path);
    if (r->path_len)
        snprintf(r->err->message, sizeof r->err->message, "%s: %s", r->path, what);
    else
        snprintf(r->err->message, sizeof r->err->message, "%s", what);
}

//  A JSON value as an error quotes it: its text, cut at a character boundary.
static void s_got(struct json_object *v, char *buf, size_t size)
{
    const char *text = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
                         : "null";
    size_t len = strlen(text);
    if (len < size && len <= S_GOT_MAX) {
        memcpy(buf, text, len + 1);
        return;
    }
    size_t keep = S_GOT_MAX < size - 4 ? S_GOT_MAX : size - 4;
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--;
    memcpy(buf, text, keep);
    memcpy(buf + keep, "...", 4);
}

const char *kontor_json_type_name(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return "?";
}

//  Bytes one element of a repeated field takes in its array.
static size_t s_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

//  ---------------------------------------------------------------- reading: values

//  An integer as sign and magnitude (value = neg ? -mag : mag), from a JSON
//  number or a decimal string. Returns 0, -1 if it is not an integer, -2 if
//  its magnitude is beyond 64 bits.
static int s_integer(struct json_object *v, bool *neg, uint64_t *mag)
{
    switch (json_object_get_type(v)) {
    case json_type_int: {
        //  json-c keeps an int64, or a uint64 above INT64_MAX: ask for both.
        int64_t i = json_object_get_int64(v);
        *neg = i < 0;
        *mag = i < 0 ? (uint64_t)(-(i + 1)) + 1 : json_object_get_uint64(v);
        return 0;
    }
    case json_type_double: {
        double d = json_object_get_double(v);
        if (isnan(d) || (isfinite(d) && d != trunc(d)))
            return -1;
        if (fabs(d) >= 0x1p64)
            return -2;
        *neg = d < 0;
        *mag = (uint64_t)fabs(d);
        return 0;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        *neg = *s == '-';
        s += *neg;
        if (!isdigit((unsigned char)*s))
            return -1;
        uint64_t m = 0;
        bool over = false;
        for (; isdigit((unsigned char)*s); s++) {
            unsigned digit = (unsigned)(*s - '0');
            if (m > (UINT64_MAX - digit) / 10)
                over = true;
            else
                m = m * 10 + digit;
        }
        if (*s)
            return -1;
        if (over)
            return -2;
        *mag = m;
        *neg = *neg && m != 0;
        return 0;
    }
    default:
        return -1;
    }
}

//  Read an integer field value within [-(max_neg), max_pos].
static int s_read_integer(s_reader_t *r, const ProtobufCFieldDescriptor *fd, struct json_object *v,
                          uint64_t max_pos, uint64_t max_neg, bool *neg, uint64_t *mag)
{
    char got[S_GOT_MAX + 8];
    int rc = s_integer(v, neg, mag);
    if (rc == 0 && (*neg ? *mag <= max_neg : *mag <= max_pos))
        return 0;
    s_got(v, got, sizeof got);
    if (rc == -1)
        s_fail(r, "expected an integer, got %s", got);
    else
        s_fail(r, "out of range for %s: %s", kontor_json_type_name(fd->type), got);
    return -1;
}

static int s_read_number(s_reader_t *r, const ProtobufCFieldDescriptor *fd, struct json_object *v,
                         double *out)
{
    char got[S_GOT_MAX + 8];
    s_got(v, got, sizeof got);
    switch (json_object_get_type(v)) {
    case json_type_int: {
        bool neg;
        uint64_t mag;
        s_integer(v, &neg, &mag);
        *out = neg ? -(double)mag : (double)mag;
        break;
    }
    case json_type_double:
        *out = json_object_get_double(v);
        if (!isfinite(*out)) {
            //  json-c reads NaN and Infinity bare, and 1e999 as infinity.
            s_fail(r, "not a finite number: %s (write \"NaN\", \"Infinity\" or \"-Infinity\")",
                   got);
            return -1;
        }
        break;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else {
            //  A decimal number in a string: only what a JSON number may hold.
            char *end = NULL;
            bool plain = (*s == '-' || isdigit((unsigned char)*s)) &&
                         strspn(s, "0123456789+-.eE") == strlen(s);
            *out = plain ? strtod(s, &end) : 0;
            if (!plain || !end || *end || !isfinite(*out)) {
                s_fail(r, "expected a number, got %s", got);
                return -1;
            }
        }
        break;
    }
    default:
        s_fail(r, "expected a number, got %s", got);
        return -1;
    }
    if (fd->type == PROTOBUF_C_TYPE_FLOAT && isfinite(*out) && fabs(*out) >= S_FLOAT_LIMIT) {
        s_fail(r, "out of range for float: %s", got);
        return -1;
    }
    return 0;
}

static int s_read_enum(s_reader_t *r, const ProtobufCFieldDescriptor *fd, struct json_object *v,
                       int *out)
{
    const ProtobufCEnumDescriptor *ed = fd->descriptor;
    char got[S_GOT_MAX + 8];
    s_got(v, got, sizeof got);
    if (json_object_is_type(v, json_type_string)) {
        const char *name = json_object_get_string(v);
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
        if (ev) {
            *out = ev->value;
            return 0;
        }
        kontor_nearest_t near;
        kontor_nearest_init(&near, name);
        for (unsigned i = 0; i < ed->n_values; i++)
            kontor_nearest_add(&near, ed->values[i].name);
        s_fail(r, "unknown value %s of %s; did you mean \"%s\"?", got, ed->name,
               near.best ? near.best : "");
        return -1;
    }
    bool neg;
    uint64_t mag;
    if (json_object_is_type(v, json_type_int) && s_integer(v, &neg, &mag) == 0 &&
        mag <= (uint64_t)INT32_MAX) {
        int value = neg ? -(int)mag : (int)mag;
        if (protobuf_c_enum_descriptor_get_value(ed, value)) {
            *out = value;
            return 0;
        }
        s_fail(r, "%s has no value %s", ed->name, got);
        return -1;
    }
    s_fail(r, "expected a value name of %s, got %s", ed->name, got);
    return -1;
}

static ProtobufCMessage *s_read_message(s_reader_t *r, const ProtobufCMessageDescriptor *desc,
                                        struct json_object *json, int depth);

//  Read one value of field `fd` into `slot` (the member, or an array
//  element). Writes the slot only on success.
static int s_read_value(s_reader_t *r, const ProtobufCFieldDescriptor *fd, void *slot,
                        struct json_object *v, int depth)
{
    char got[S_GOT_MAX + 8];
    bool neg;
    uint64_t mag;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (s_read_integer(r, fd, v, INT32_MAX, (uint64_t)INT32_MAX + 1, &neg, &mag) != 0)
            return -1;
        *(int32_t *)slot = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (s_read_integer(r, fd, v, UINT32_MAX, 0, &neg, &mag) != 0)
            return -1;
        *(uint32_t *)slot = (uint32_t)mag;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (s_read_integer(r, fd, v, INT64_MAX, (uint64_t)INT64_MAX + 1, &neg, &mag) != 0)
            return -1;
        *(int64_t *)slot = !neg                        ? (int64_t)mag
                           : mag > (uint64_t)INT64_MAX ? INT64_MIN
                                                       : -(int64_t)mag;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (s_read_integer(r, fd, v, UINT64_MAX, 0, &neg, &mag) != 0)
            return -1;
        *(uint64_t *)slot = mag;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d;
        if (s_read_number(r, fd, v, &d) != 0)
            return -1;
        if (fd->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)slot = (float)d;
        else
            *(double *)slot = d;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) {
            s_got(v, got, sizeof got);
            s_fail(r, "expected true or false, got %s", got);
            return -1;
        }
        *(protobuf_c_boolean *)slot = json_object_get_boolean(v) ? 1 : 0;
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return s_read_enum(r, fd, v, (int *)slot);
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_object_is_type(v, json_type_string)) {
            s_got(v, got, sizeof got);
            s_fail(r, "expected a string, got %s", got);
            return -1;
        }
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (memchr(s, '\0', len)) {
            s_fail(r, "a string may not contain a NUL character (\\u0000)");
            return -1;
        }
        if (!kt_utf8_valid(s, len)) {
            s_fail(r, "not valid UTF-8");
            return -1;
        }
        char *copy = malloc(len + 1);
        if (!copy) {
            s_fail(r, "out of memory");
            return -1;
        }
        memcpy(copy, s, len + 1);
        *(char **)slot = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_object_is_type(v, json_type_string)) {
            s_got(v, got, sizeof got);
            s_fail(r, "expected base64 text, got %s", got);
            return -1;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        int rc = kontor_base64_decode(json_object_get_string(v),
                                      (size_t)json_object_get_string_len(v), &data, &len);
        if (rc != 0) {
            s_got(v, got, sizeof got);
            if (rc == -1)
                s_fail(r, "not base64: %s", got);
            else
                s_fail(r, "out of memory");
            return -1;
        }
        ProtobufCBinaryData *bd = slot;
        bd->data = data;
        bd->len = len;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = s_read_message(r, fd->descriptor, v, depth + 1);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)slot = sub;
        return 0;
    }
    }
    s_fail(r, "field type %d is not supported", (int)fd->type);
    return -1;
}

//  Read the JSON value of one field into `msg`. null leaves the default.
static void s_read_field(s_reader_t *r, const ProtobufCFieldDescriptor *fd, ProtobufCMessage *msg,
                         struct json_object *v, int depth)
{
    char *base = (char *)msg;
    char got[S_GOT_MAX + 8];
    if (!v)
        return;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_object_is_type(v, json_type_array)) {
            s_got(v, got, sizeof got);
            s_fail(r, "expected an array, got %s", got);
            return;
        }
        size_t n = json_object_array_length(v);
        if (n == 0)
            return;
        size_t elem = s_elem_size(fd->type);
        char *array = calloc(n, elem);
        if (!array) {
            s_fail(r, "out of memory");
            return;
        }
        //  Owned by the message from here on; the count grows with each
        //  element read, so freeing the message frees exactly those.
        *(char **)(base + fd->offset) = array;
        size_t *count = (size_t *)(base + fd->quantifier_offset);
        for (size_t i = 0; i < n && !r->failed; i++) {
            struct json_object *item = json_object_array_get_idx(v, i);
            size_t mark = s_path_add(r, "[%zu]", i);
            if (!item)
                s_fail(r, "null is not allowed in a list");
            else if (s_read_value(r, fd, array + i * elem, item, depth) == 0)
                (*count)++;
            s_path_back(r, mark);
        }
        return;
    }
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(base + fd->quantifier_offset);
        if (*which != 0 && *which != fd->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(msg->descriptor, *which);
            s_fail(r, "only one of %s and %s may be set", other ? other->name : "?", fd->name);
            return;
        }
        if (s_read_value(r, fd, base + fd->offset, v, depth) == 0)
            *which = fd->id;
        return;
    }
    if (s_read_value(r, fd, base + fd->offset, v, depth) != 0)
        return;
    //  Optional scalars and bytes say they are present with a has_ member;
    //  strings and messages by their pointer.
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
        fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)(base + fd->quantifier_offset) = 1;
}

static ProtobufCMessage *s_read_message(s_reader_t *r, const ProtobufCMessageDescriptor *desc,
                                        struct json_object *json, int depth)
{
    if (!json_object_is_type(json, json_type_object)) {
        char got[S_GOT_MAX + 8];
        s_got(json, got, sizeof got);
        s_fail(r, "expected an object (%s), got %s", desc->name, got);
        return NULL;
    }
    if (depth > KONTOR_JSON_MAX_DEPTH) {
        s_fail(r, "nested more than %d deep", KONTOR_JSON_MAX_DEPTH);
        return NULL;
    }
    ProtobufCMessage *msg = malloc(desc->sizeof_message);
    if (!msg) {
        s_fail(r, "out of memory");
        return NULL;
    }
    protobuf_c_message_init(desc, msg);
    struct json_object_iterator it = json_object_iter_begin(json);
    struct json_object_iterator end = json_object_iter_end(json);
    for (; !r->failed && !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        struct json_object *value = json_object_iter_peek_value(&it);
        size_t mark = s_path_add(r, "%s%s", r->path_len ? "." : "", key);
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(desc, key);
        if (fd)
            s_read_field(r, fd, msg, value, depth);
        else if (desc->n_fields == 0)
            s_fail(r, "unknown field: %s has no fields", desc->name);
        else {
            kontor_nearest_t near;
            kontor_nearest_init(&near, key);
            for (unsigned i = 0; i < desc->n_fields; i++)
                kontor_nearest_add(&near, desc->fields[i].name);
            s_fail(r, "unknown field of %s; did you mean \"%s\"?", desc->name, near.best);
        }
        s_path_back(r, mark);
    }
    if (r->failed) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

ProtobufCMessage *kontor_json_to_msg(const ProtobufCMessageDescriptor *desc,
                                     struct json_object *json, kontor_json_error_t *err)
{
    memset(err, 0, sizeof *err);
    s_reader_t r = {.err = err};
    return s_read_message(&r, desc, json, 1);
}

//  ---------------------------------------------------------------- parsing text

//  1-based line and column (in characters) of byte `offset`.
static void s_position(const char *text, size_t offset, int *line, int *column)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80)
            c++;
    }
    *line = l;
    *column = c;
}

static void s_syntax_error(kontor_json_error_t *err, const char *text, size_t offset,
                           const char *what)
{
    s_position(text, offset, &err->line, &err->column);
    snprintf(err->message, sizeof err->message, "line %d, column %d: %s", err->line, err->column,
             what);
}

//  True if the integer literal `tok` (n bytes: an optional '-' and digits)
//  is outside [INT64_MIN, UINT64_MAX].
static bool s_beyond_64_bits(const char *tok, size_t n)
{
    bool neg = n > 0 && tok[0] == '-';
    const char *digits = tok + neg;
    size_t nd = n - neg;
    while (nd > 1 && *digits == '0') {
        digits++;
        nd--;
    }
    const char *limit = neg ? "9223372036854775808" : "18446744073709551615";
    size_t nl = strlen(limit);
    return nd > nl || (nd == nl && memcmp(digits, limit, nd) > 0);
}

//  Refuse integer literals json-c would have saturated (see the top).
static int s_scan_integers(const char *text, size_t len, kontor_json_error_t *err)
{
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (quote) {
            if (ch == '\\')
                i++;
            else if (ch == quote)
                quote = 0;
            continue;
        }
        if (ch == '"' || ch == '\'') {
            quote = ch;
            continue;
        }
        if (ch != '-' && !isdigit((unsigned char)ch))
            continue;
        size_t start = i;
        bool integral = true;
        while (i < len && (isdigit((unsigned char)text[i]) || strchr("+-.eE", text[i])) &&
               text[i]) {
            if (text[i] == '.' || text[i] == 'e' || text[i] == 'E')
                integral = false;
            i++;
        }
        if (integral && s_beyond_64_bits(text + start, i - start)) {
            char what[128];
            snprintf(what, sizeof what, "integer beyond 64 bits: %.*s",
                     (int)(i - start > 40 ? 40 : i - start), text + start);
            s_syntax_error(err, text, start, what);
            return -1;
        }
        i--;
    }
    return 0;
}

struct json_object *kontor_json_parse(const char *text, size_t len, kontor_json_error_t *err)
{
    memset(err, 0, sizeof *err);
    if (len > KONTOR_JSON_MAX_BYTES) {
        snprintf(err->message, sizeof err->message, "the JSON text is larger than %u bytes",
                 KONTOR_JSON_MAX_BYTES);
        return NULL;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        s_syntax_error(err, text, (size_t)(nul - text), "a NUL byte in the text");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(KONTOR_JSON_MAX_DEPTH);
    if (!tok) {
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!obj && jerr == json_tokener_continue) {
        //  The text ended inside a value, or right after a number, which
        //  only what follows it ends: say the text is over.
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        bool blank = true;
        for (size_t i = 0; i < len && blank; i++)
            blank = isspace((unsigned char)text[i]);
        const char *what = jerr == json_tokener_error_parse_eof || jerr == json_tokener_continue
                               ? (blank ? "no JSON text" : "the JSON text ends too early")
                               : json_tokener_error_desc(jerr);
        s_syntax_error(err, text, end < len ? end : len, what);
        return NULL;
    }
    for (size_t i = end; i < len; i++)
        if (!isspace((unsigned char)text[i])) {
            json_object_put(obj);
            s_syntax_error(err, text, i, "unexpected text after the JSON value");
            return NULL;
        }
    if (s_scan_integers(text, len, err) != 0) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

ProtobufCMessage *kontor_json_decode(const ProtobufCMessageDescriptor *desc, const char *text,
                                     size_t len, kontor_json_error_t *err)
{
    struct json_object *json = kontor_json_parse(text, len, err);
    if (!json)
        return NULL;
    ProtobufCMessage *msg = kontor_json_to_msg(desc, json, err);
    json_object_put(json);
    return msg;
}

//  ---------------------------------------------------------------- writing

typedef struct {
    bool oom; //  json-c could not allocate something
} s_writer_t;

static struct json_object *s_write_i64(int64_t v)
{
    if (v > -S_EXACT_LIMIT && v < S_EXACT_LIMIT)
        return json_object_new_int64(v);
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    return json_object_new_string(text);
}

static struct json_object *s_write_u64(uint64_t v)
{
    if (v < (uint64_t)S_EXACT_LIMIT)
        return json_object_new_int64((int64_t)v);
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    return json_object_new_string(text);
}

//  The shortest text that reads back as the same float or double.
static struct json_object *s_write_real(double v, bool is_float)
{
    if (isnan(v))
        return json_object_new_string("NaN");
    if (isinf(v))
        return json_object_new_string(v > 0 ? "Infinity" : "-Infinity");
    char text[40];
    if (v == 0 && signbit(v))
        snprintf(text, sizeof text, "-0.0"); //  "-0" would read back as the integer 0
    else
        for (int prec = is_float ? 6 : 15; prec <= (is_float ? 9 : 17); prec++) {
            snprintf(text, sizeof text, "%.*g", prec, v);
            if (is_float ? strtof(text, NULL) == (float)v : strtod(text, NULL) == v)
                break;
        }
    return json_object_new_double_s(v, text);
}

static struct json_object *s_write_message(s_writer_t *w, const ProtobufCMessage *msg);

static struct json_object *s_write_value(s_writer_t *w, const ProtobufCFieldDescriptor *fd,
                                         const void *slot)
{
    struct json_object *out = NULL;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        out = json_object_new_int64(*(const int32_t *)slot);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        out = json_object_new_int64(*(const uint32_t *)slot);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        out = s_write_i64(*(const int64_t *)slot);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        out = s_write_u64(*(const uint64_t *)slot);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        out = s_write_real(*(const float *)slot, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        out = s_write_real(*(const double *)slot, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        out = json_object_new_boolean(*(const protobuf_c_boolean *)slot ? 1 : 0);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)slot;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(fd->descriptor, v);
        out = ev ? json_object_new_string(ev->name) : json_object_new_int64(v);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        out = json_object_new_string(s ? s : "");
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = slot;
        char *text = kontor_base64_encode(bd->data, bd->len);
        out = text ? json_object_new_string(text) : NULL;
        free(text);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
        //  An absent message is null, not an allocation failure.
        return sub ? s_write_message(w, sub) : NULL;
    }
    }
    if (!out)
        w->oom = true;
    return out;
}

static struct json_object *s_write_message(s_writer_t *w, const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *)msg;
    struct json_object *obj = json_object_new_object();
    if (!obj) {
        w->oom = true;
        return NULL;
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        struct json_object *value = NULL;
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
                continue;
        } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
            bool present = fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE
                               ? *(void *const *)(base + fd->offset) != NULL
                               : !fd->quantifier_offset ||
                                     *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
            if (!present)
                continue;
        }
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + fd->quantifier_offset);
            const char *array = *(char *const *)(base + fd->offset);
            size_t elem = s_elem_size(fd->type);
            value = json_object_new_array_ext((int)n);
            if (!value) {
                w->oom = true;
                continue;
            }
            for (size_t k = 0; k < n; k++)
                if (json_object_array_add(value, s_write_value(w, fd, array + k * elem)) != 0)
                    w->oom = true;
        } else
            value = s_write_value(w, fd, base + fd->offset);
        if (json_object_object_add(obj, fd->name, value) != 0) {
            json_object_put(value);
            w->oom = true;
        }
    }
    return obj;
}

struct json_object *kontor_json_from_msg(const ProtobufCMessage *msg)
{
    s_writer_t w = {.oom = false};
    struct json_object *obj = s_write_message(&w, msg);
    if (w.oom) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

char *kontor_json_encode(const ProtobufCMessage *msg, bool pretty)
{
    struct json_object *obj = kontor_json_from_msg(msg);
    if (!obj)
        return NULL;
    int flags =
        JSON_C_TO_STRING_NOSLASHESCAPE |
        (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
    const char *text = json_object_to_json_string_ext(obj, flags);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(obj);
    return copy;
}

//  ---------------------------------------------------------------- base64

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *kontor_base64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    char *p = out;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *p++ = s_b64[v >> 18 & 63];
        *p++ = s_b64[v >> 12 & 63];
        *p++ = s_b64[v >> 6 & 63];
        *p++ = s_b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        *p++ = s_b64[v >> 18 & 63];
        *p++ = s_b64[v >> 12 & 63];
        *p++ = i + 1 < len ? s_b64[v >> 6 & 63] : '=';
        *p++ = '=';
    }
    *p = '\0';
    return out;
}

static int s_b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

int kontor_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t n = len, pad = 0;
    while (n > 0 && text[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if ((pad && len % 4 != 0) || n % 4 == 1)
        return -1;
    size_t size = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return -2;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64_value(text[i]);
        if (v < 0) {
            free(buf);
            return -1;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *out_len = o;
    return 0;
}
