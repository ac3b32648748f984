/*  test_kontor_json - the CLI's JSON codec, over every message type there is.
 *
 *  Round trip: for every descriptor in the registry (so every message of
 *  every proto file, growing with them) and for a hand-written message
 *  that has every field type protobuf-c knows (oneof and optional too), an
 *  instance is populated generically - every scalar off its default, 64-bit
 *  extremes, enums at their last value, two elements per repeated field,
 *  messages nested three deep - printed as JSON, read back, and packed: the
 *  bytes must be equal, and printing again must give the same text.
 *
 *  Bad input: every kind the codec refuses, each checked for the field path
 *  and the sentence (syntax errors for line and column).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor.pb-c.h"
#include "logistics.pb-c.h"
#include "kontor_json.h"
#include "kontor_nearest.h"
#include "kontor_registry.h"
#include "kt_wire.h"

#define S_NEST_DEPTH 3 //  nested messages populated this deep

//  ---------------------------------------------------------------- a message with every field type

//  As protoc-c would generate for:
//    message Sample {
//      int32 i32 = 1; sint32 s32 = 2; sfixed32 sf32 = 3; uint32 u32 = 4; fixed32 f32 = 5;
//      int64 i64 = 6; sint64 s64 = 7; sfixed64 sf64 = 8; uint64 u64 = 9; fixed64 f64 = 10;
//      float fl = 11; double db = 12; bool b = 13; kontor.Status st = 14; string s = 15;
//      bytes by = 16; optional int32 opt = 17; oneof choice { string text = 18; int64 num = 19; }
//      repeated double reals = 20; repeated kontor.Status sts = 21; Sample child = 22;
//      repeated bytes blobs = 23; optional string ostr = 24;
//    }
typedef struct {
    ProtobufCMessage base;
    int32_t i32, s32, sf32;
    uint32_t u32, f32;
    int64_t i64, s64, sf64;
    uint64_t u64, f64;
    float fl;
    double db;
    protobuf_c_boolean b;
    int st;
    char *s;
    ProtobufCBinaryData by;
    protobuf_c_boolean has_opt;
    int32_t opt;
    uint32_t choice_case;
    union {
        char *text;
        int64_t num;
    };
    size_t n_reals;
    double *reals;
    size_t n_sts;
    int *sts;
    ProtobufCMessage *child;
    size_t n_blobs;
    ProtobufCBinaryData *blobs;
    char *ostr;
} s_sample_t;

static const ProtobufCMessageDescriptor s_sample_descriptor;

static void s_sample_init(s_sample_t *m)
{
    memset(m, 0, sizeof *m);
    m->base.descriptor = &s_sample_descriptor;
    m->s = (char *)protobuf_c_empty_string;
}

#define S_F(name, id, label, type, q, member, desc, def, flags)                                    \
    {                                                                                              \
        name, id, label, type, q, offsetof(s_sample_t, member), desc, def, flags, 0, NULL, NULL    \
    }
#define S_NONE   PROTOBUF_C_LABEL_NONE
#define S_PACKED PROTOBUF_C_FIELD_FLAG_PACKED

static const ProtobufCFieldDescriptor s_sample_fields[] = {
    S_F("i32", 1, S_NONE, PROTOBUF_C_TYPE_INT32, 0, i32, NULL, NULL, 0),
    S_F("s32", 2, S_NONE, PROTOBUF_C_TYPE_SINT32, 0, s32, NULL, NULL, 0),
    S_F("sf32", 3, S_NONE, PROTOBUF_C_TYPE_SFIXED32, 0, sf32, NULL, NULL, 0),
    S_F("u32", 4, S_NONE, PROTOBUF_C_TYPE_UINT32, 0, u32, NULL, NULL, 0),
    S_F("f32", 5, S_NONE, PROTOBUF_C_TYPE_FIXED32, 0, f32, NULL, NULL, 0),
    S_F("i64", 6, S_NONE, PROTOBUF_C_TYPE_INT64, 0, i64, NULL, NULL, 0),
    S_F("s64", 7, S_NONE, PROTOBUF_C_TYPE_SINT64, 0, s64, NULL, NULL, 0),
    S_F("sf64", 8, S_NONE, PROTOBUF_C_TYPE_SFIXED64, 0, sf64, NULL, NULL, 0),
    S_F("u64", 9, S_NONE, PROTOBUF_C_TYPE_UINT64, 0, u64, NULL, NULL, 0),
    S_F("f64", 10, S_NONE, PROTOBUF_C_TYPE_FIXED64, 0, f64, NULL, NULL, 0),
    S_F("fl", 11, S_NONE, PROTOBUF_C_TYPE_FLOAT, 0, fl, NULL, NULL, 0),
    S_F("db", 12, S_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, db, NULL, NULL, 0),
    S_F("b", 13, S_NONE, PROTOBUF_C_TYPE_BOOL, 0, b, NULL, NULL, 0),
    S_F("st", 14, S_NONE, PROTOBUF_C_TYPE_ENUM, 0, st, &kontor__status__descriptor, NULL, 0),
    S_F("s", 15, S_NONE, PROTOBUF_C_TYPE_STRING, 0, s, NULL, &protobuf_c_empty_string, 0),
    S_F("by", 16, S_NONE, PROTOBUF_C_TYPE_BYTES, 0, by, NULL, NULL, 0),
    S_F("opt", 17, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32, offsetof(s_sample_t, has_opt),
        opt, NULL, NULL, 0),
    S_F("text", 18, S_NONE, PROTOBUF_C_TYPE_STRING, offsetof(s_sample_t, choice_case), text, NULL,
        NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
    S_F("num", 19, S_NONE, PROTOBUF_C_TYPE_INT64, offsetof(s_sample_t, choice_case), num, NULL,
        NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
    S_F("reals", 20, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_DOUBLE,
        offsetof(s_sample_t, n_reals), reals, NULL, NULL, S_PACKED),
    S_F("sts", 21, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_ENUM, offsetof(s_sample_t, n_sts),
        sts, &kontor__status__descriptor, NULL, S_PACKED),
    S_F("child", 22, S_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, child, &s_sample_descriptor, NULL, 0),
    S_F("blobs", 23, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES,
        offsetof(s_sample_t, n_blobs), blobs, NULL, NULL, 0),
    S_F("ostr", 24, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, ostr, NULL, NULL, 0),
};
#define S_SAMPLE_FIELDS (sizeof s_sample_fields / sizeof s_sample_fields[0])

static unsigned s_sample_by_name[S_SAMPLE_FIELDS]; //  sorted in s_setup
static const ProtobufCIntRange s_sample_ranges[] = {{1, 0}, {0, S_SAMPLE_FIELDS}};

static const ProtobufCMessageDescriptor s_sample_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "kontor.test.Sample",
    "Sample",
    "Kontor__Test__Sample",
    "kontor.test",
    sizeof(s_sample_t),
    S_SAMPLE_FIELDS,
    s_sample_fields,
    s_sample_by_name,
    1,
    s_sample_ranges,
    (ProtobufCMessageInit)s_sample_init,
    NULL,
    NULL,
    NULL,
};

static int s_by_field_name(const void *a, const void *b)
{
    return strcmp(s_sample_fields[*(const unsigned *)a].name,
                  s_sample_fields[*(const unsigned *)b].name);
}

static int s_setup(void **state)
{
    for (unsigned i = 0; i < S_SAMPLE_FIELDS; i++)
        s_sample_by_name[i] = i;
    qsort(s_sample_by_name, S_SAMPLE_FIELDS, sizeof s_sample_by_name[0], s_by_field_name);
    return 0;
}

//  ---------------------------------------------------------------- populating any message

static void *s_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    assert_non_null(p);
    return p;
}

//  Value number `k` of a scalar field: extremes and the 2^53 edges in turn.
static void s_scalar(const ProtobufCFieldDescriptor *fd, void *slot, unsigned k)
{
    static const int64_t i64s[] = {
        INT64_MIN, INT64_MAX, -(INT64_C(1) << 53), (INT64_C(1) << 53) - 1, (INT64_C(1) << 53), -1};
    static const uint64_t u64s[] = {UINT64_MAX, (UINT64_C(1) << 53), (UINT64_C(1) << 53) - 1, 1};
    static const int32_t i32s[] = {INT32_MIN, INT32_MAX, -1, 7};
    static const uint32_t u32s[] = {UINT32_MAX, 1, 65536};
    static const double dbs[] = {DBL_MAX, -0.1, 5e-324, 1e300, -0.0, NAN, INFINITY, -2.5};
    static const float fls[] = {FLT_MAX, -0.1f, FLT_TRUE_MIN, 3.0f, -INFINITY, 1e-10f};
    static const char *const strs[] = {"plain", "é ü \"quoted\" \\ / \n\t ☃ 𝄞 Ж", "x"};
#define S_PICK(a) (a)[k % (sizeof(a) / sizeof((a)[0]))]
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)slot = S_PICK(i32s);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *)slot = S_PICK(u32s);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)slot = S_PICK(i64s);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *)slot = S_PICK(u64s);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)slot = S_PICK(fls);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)slot = S_PICK(dbs);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)slot = 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = fd->descriptor;
        *(int *)slot = ed->values[ed->n_values - 1].value;
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        *(char **)slot = strdup(S_PICK(strs));
        assert_non_null(*(char **)slot);
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        //  1, 2, 3 bytes and more: every padding of base64, every byte value kind.
        size_t len = 1 + k % 5;
        uint8_t *data = s_xmalloc(len);
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)(0xFF - 37 * i - k);
        ((ProtobufCBinaryData *)slot)->data = data;
        ((ProtobufCBinaryData *)slot)->len = len;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
#undef S_PICK
}

static size_t s_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

//  A new instance of `desc` with every field set (see the top); messages
//  below `depth` S_NEST_DEPTH are left absent. Free with kt_msg_free.
static ProtobufCMessage *s_populate(const ProtobufCMessageDescriptor *desc, int depth, unsigned k)
{
    ProtobufCMessage *msg = s_xmalloc(desc->sizeof_message);
    protobuf_c_message_init(desc, msg);
    char *base = (char *)msg;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        unsigned v = k + i;
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            //  The first member of each oneof.
            uint32_t *which = (uint32_t *)(base + fd->quantifier_offset);
            if (*which != 0)
                continue;
            *which = fd->id;
        }
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t elem = s_elem_size(fd->type);
            char *array = s_xmalloc(2 * elem);
            memset(array, 0, 2 * elem);
            *(char **)(base + fd->offset) = array;
            *(size_t *)(base + fd->quantifier_offset) = 2;
            for (unsigned e = 0; e < 2; e++) {
                if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
                    *(ProtobufCMessage **)(array + e * elem) =
                        s_populate(fd->descriptor, depth + 1, v + e);
                else
                    s_scalar(fd, array + e * elem, v + e);
            }
            continue;
        }
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (depth < S_NEST_DEPTH)
                *(ProtobufCMessage **)(base + fd->offset) =
                    s_populate(fd->descriptor, depth + 1, v);
            continue;
        }
        s_scalar(fd, base + fd->offset, v);
        if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
            !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && fd->type != PROTOBUF_C_TYPE_STRING)
            *(protobuf_c_boolean *)(base + fd->quantifier_offset) = 1;
    }
    //  Deep messages would grow as 2^depth through repeated fields; the
    //  depth bound above keeps them small.
    return msg;
}

//  Pack, print, read back, pack again, print again: equal bytes, equal text.
static void s_round_trip(const ProtobufCMessage *msg, bool pretty)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    size_t len1 = 0, len2 = 0;
    uint8_t *bytes1 = kt_msg_pack(msg, &len1);
    assert_non_null(bytes1);
    char *json1 = kontor_json_encode(msg, pretty);
    assert_non_null(json1);
    kontor_json_error_t err;
    ProtobufCMessage *back = kontor_json_decode(desc, json1, strlen(json1), &err);
    if (!back)
        fail_msg("%s: its own JSON does not read back: %s\n%s", desc->name, err.message, json1);
    uint8_t *bytes2 = kt_msg_pack(back, &len2);
    assert_non_null(bytes2);
    if (len1 != len2 || memcmp(bytes1, bytes2, len1) != 0)
        fail_msg("%s: %zu bytes packed, %zu after JSON\n%s", desc->name, len1, len2, json1);
    char *json2 = kontor_json_encode(back, pretty);
    assert_non_null(json2);
    if (strcmp(json1, json2) != 0)
        fail_msg("%s: JSON changed on the way:\n%s\n%s", desc->name, json1, json2);
    free(json2);
    free(bytes2);
    kt_msg_free(back);
    free(json1);
    free(bytes1);
}

//  ---------------------------------------------------------------- round trips

static void test_registry_is_complete_and_sorted(void **state)
{
    assert_true(kontor_registry_count > 20);
    for (size_t i = 0; i < kontor_registry_count; i++) {
        const kontor_registry_entry_t *e = &kontor_registry[i];
        assert_string_equal(e->full_name, e->descriptor->name);
        assert_ptr_equal(kontor_registry_lookup(e->full_name), e->descriptor);
        if (i > 0)
            assert_true(strcmp(kontor_registry[i - 1].full_name, e->full_name) < 0);
    }
    assert_ptr_equal(kontor_registry_lookup("kontor.DescribeReply"),
                     &kontor__describe_reply__descriptor);
    assert_ptr_equal(kontor_registry_lookup("kontor.MethodInfo"), &kontor__method_info__descriptor);
    assert_null(kontor_registry_lookup("kontor.NoSuchThing"));
    assert_null(kontor_registry_lookup(""));
}

static void test_round_trip_every_registered_type(void **state)
{
    size_t types = 0;
    for (size_t i = 0; i < kontor_registry_count; i++) {
        const ProtobufCMessageDescriptor *desc = kontor_registry[i].descriptor;
        for (unsigned k = 0; k < 3; k++) {
            ProtobufCMessage *msg = s_populate(desc, 1, k);
            s_round_trip(msg, k % 2 == 0);
            kt_msg_free(msg);
        }
        //  All defaults too: {} and back.
        ProtobufCMessage *empty = s_xmalloc(desc->sizeof_message);
        protobuf_c_message_init(desc, empty);
        s_round_trip(empty, false);
        kt_msg_free(empty);
        types++;
    }
    print_message("# %zu message types: JSON -> protobuf -> JSON stable\n", types);
}

static void test_round_trip_every_field_type(void **state)
{
    for (unsigned k = 0; k < 8; k++) {
        ProtobufCMessage *msg = s_populate(&s_sample_descriptor, 1, k);
        s_round_trip(msg, k % 2 == 1);
        kt_msg_free(msg);
    }
    //  The other member of the oneof, and the optional ones absent.
    ProtobufCMessage *msg = s_populate(&s_sample_descriptor, 1, 0);
    s_sample_t *s = (s_sample_t *)msg;
    free(s->text);
    s->choice_case = 19;
    s->num = INT64_MIN;
    s->has_opt = 0;
    free(s->ostr);
    s->ostr = NULL;
    s_round_trip(msg, true);
    struct json_object *json = kontor_json_from_msg(msg), *value = NULL;
    assert_true(json_object_object_get_ex(json, "num", &value));
    assert_string_equal(json_object_get_string(value), "-9223372036854775808");
    assert_false(json_object_object_get_ex(json, "text", NULL));
    assert_false(json_object_object_get_ex(json, "opt", NULL));
    assert_false(json_object_object_get_ex(json, "ostr", NULL));
    assert_true(json_object_object_get_ex(json, "child", NULL));
    json_object_put(json);
    kt_msg_free(msg);
}

//  How values print: the JSON a script reads.
static void test_value_forms(void **state)
{
    ProtobufCMessage *msg = s_xmalloc(sizeof(s_sample_t));
    protobuf_c_message_init(&s_sample_descriptor, msg);
    s_sample_t *s = (s_sample_t *)msg;
    s->i64 = (INT64_C(1) << 53) - 1;
    s->s64 = INT64_C(1) << 53;
    s->sf64 = -(INT64_C(1) << 53);
    s->u64 = UINT64_MAX;
    s->fl = 0.1f;
    s->db = NAN;
    s->st = 3;
    uint8_t raw[] = {'f', 'o', 'o', 'b'};
    s->by.data = s_xmalloc(4);
    memcpy(s->by.data, raw, 4);
    s->by.len = 4;
    char *json = kontor_json_encode(msg, false);
    assert_non_null(strstr(json, "\"i64\":9007199254740991,"));
    assert_non_null(strstr(json, "\"s64\":\"9007199254740992\""));
    assert_non_null(strstr(json, "\"sf64\":\"-9007199254740992\""));
    assert_non_null(strstr(json, "\"u64\":\"18446744073709551615\""));
    assert_non_null(strstr(json, "\"fl\":0.1,"));
    assert_non_null(strstr(json, "\"db\":\"NaN\""));
    assert_non_null(strstr(json, "\"st\":\"INVALID_ARGUMENT\""));
    assert_non_null(strstr(json, "\"by\":\"Zm9vYg==\""));
    assert_non_null(strstr(json, "\"child\":null"));
    assert_non_null(strstr(json, "\"reals\":[]"));
    free(json);
    kt_msg_free(msg);
}

//  ---------------------------------------------------------------- reading: what is accepted

static ProtobufCMessage *s_decode(const ProtobufCMessageDescriptor *desc, const char *text)
{
    kontor_json_error_t err;
    ProtobufCMessage *msg = kontor_json_decode(desc, text, strlen(text), &err);
    if (!msg)
        fail_msg("refused %s: %s", text, err.message);
    return msg;
}

static void test_accepted_forms(void **state)
{
    s_sample_t *s = (s_sample_t *)s_decode(
        &s_sample_descriptor,
        "{\"i32\": \"-2147483648\", \"u32\": 4294967295, \"i64\": \"-9223372036854775808\","
        " \"s64\": -9223372036854775808, \"u64\": 18446744073709551615,"
        " \"f64\": \"18446744073709551615\", \"sf32\": 1e3, \"f32\": 10.0,"
        " \"fl\": 3.4028235e38, \"db\": \"-Infinity\", \"st\": 5, \"sts\": [\"OK\", 16],"
        " \"by\": \"-_8\", \"blobs\": [\"+/8=\", \"\"], \"s\": \"\\u00e9\\ud834\\udd1e\","
        " \"child\": {\"child\": {\"b\": true}}, \"opt\": null, \"reals\": [1, \"2.5\", \"NaN\"]}");
    assert_int_equal(s->i32, INT32_MIN);
    assert_int_equal(s->u32, UINT32_MAX);
    assert_true(s->i64 == INT64_MIN);
    assert_true(s->s64 == INT64_MIN);
    assert_true(s->u64 == UINT64_MAX);
    assert_true(s->f64 == UINT64_MAX);
    assert_int_equal(s->sf32, 1000);
    assert_int_equal(s->f32, 10);
    assert_true(s->fl == FLT_MAX);
    assert_true(isinf(s->db) && s->db < 0);
    assert_int_equal(s->st, 5);
    assert_int_equal(s->n_sts, 2);
    assert_int_equal(s->sts[1], 16);
    assert_int_equal(s->by.len, 2);
    assert_int_equal(s->by.data[0], 0xFB);
    assert_int_equal(s->by.data[1], 0xFF);
    assert_int_equal(s->n_blobs, 2);
    assert_int_equal(s->blobs[0].len, 2);
    assert_int_equal(s->blobs[1].len, 0);
    assert_string_equal(s->s, "é𝄞");
    assert_non_null(s->child);
    assert_true(((s_sample_t *)((s_sample_t *)s->child)->child)->b);
    assert_false(s->has_opt);
    assert_int_equal(s->n_reals, 3);
    assert_true(s->reals[1] == 2.5 && isnan(s->reals[2]));
    kt_msg_free(&s->base);

    //  Missing fields are defaults: {} packs to nothing.
    ProtobufCMessage *m = s_decode(&kontor__logistics__reserve_stock_request__descriptor, " {}\n");
    assert_int_equal(protobuf_c_message_get_packed_size(m), 0);
    kt_msg_free(m);
}

//  ---------------------------------------------------------------- reading: what is refused

//  Decode `text` as `desc`, expect a refusal naming `field` and saying `what`.
static void s_refused(const ProtobufCMessageDescriptor *desc, const char *text, const char *field,
                      const char *what)
{
    kontor_json_error_t err;
    ProtobufCMessage *msg = kontor_json_decode(desc, text, strlen(text), &err);
    if (msg) {
        kt_msg_free(msg);
        fail_msg("accepted %s", text);
    }
    if (strcmp(err.field, field) != 0 || !strstr(err.message, what))
        fail_msg("%s: got field '%s', message '%s'; wanted field '%s' and '%s'", text, err.field,
                 err.message, field, what);
}

static void test_refused_names(void **state)
{
    const ProtobufCMessageDescriptor *reserve =
        &kontor__logistics__reserve_stock_request__descriptor;
    s_refused(reserve, "{\"order_idd\": 1}", "order_idd", "did you mean \"order_id\"?");
    s_refused(reserve, "{\"orderId\": 1}", "orderId", "did you mean \"order_id\"?");
    s_refused(reserve, "{\"lines\": [{\"sku\": 1}, {\"qtty\": 2}]}", "lines[1].qtty",
              "unknown field of kontor.logistics.StockLine; did you mean \"qty\"?");
    s_refused(&kontor__reply__descriptor, "{\"status\": \"INVALID_ARGUMNT\"}", "status",
              "unknown value \"INVALID_ARGUMNT\" of kontor.Status; did you mean "
              "\"INVALID_ARGUMENT\"?");
    s_refused(&kontor__reply__descriptor, "{\"status\": 99}", "status",
              "kontor.Status has no value 99");
    s_refused(&kontor__reply__descriptor, "{\"status\": true}", "status",
              "expected a value name of kontor.Status, got true");
    s_refused(&kontor__status_request__descriptor, "{\"x\": 1}", "x",
              "unknown field: kontor.StatusRequest has no fields");
}

static void test_refused_values(void **state)
{
    const ProtobufCMessageDescriptor *reserve =
        &kontor__logistics__reserve_stock_request__descriptor;
    kontor_json_error_t err;
    const char *ten = "{\"lines\": [{\"sku\": 1, \"qty\": 1}, {\"sku\": 2, \"qty\": \"ten\"}]}";
    assert_null(kontor_json_decode(reserve, ten, strlen(ten), &err));
    assert_string_equal(err.message, "lines[1].qty: expected an integer, got \"ten\"");
    assert_string_equal(err.field, "lines[1].qty");
    assert_int_equal(err.line, 0);

    s_refused(reserve, "{\"order_id\": 1.5}", "order_id", "expected an integer, got 1.5");
    s_refused(reserve, "{\"order_id\": \"12a\"}", "order_id", "expected an integer");
    s_refused(reserve, "{\"order_id\": \" 12\"}", "order_id", "expected an integer");
    s_refused(reserve, "{\"order_id\": [1]}", "order_id", "expected an integer, got [1]");
    s_refused(reserve, "{\"order_id\": 9223372036854775808}", "order_id",
              "out of range for int64: 9223372036854775808");
    s_refused(reserve, "{\"order_id\": \"-9223372036854775809\"}", "order_id",
              "out of range for int64");
    s_refused(reserve, "{\"order_id\": 1e19}", "order_id", "out of range for int64");
    s_refused(reserve, "{\"hold_seconds\": -1}", "hold_seconds", "out of range for uint32: -1");
    s_refused(reserve, "{\"hold_seconds\": 4294967296}", "hold_seconds",
              "out of range for uint32: 4294967296");
    s_refused(&s_sample_descriptor, "{\"i32\": 2147483648}", "i32",
              "out of range for int32: 2147483648");
    s_refused(&s_sample_descriptor, "{\"s32\": -2147483649}", "s32", "out of range for sint32");
    s_refused(&s_sample_descriptor, "{\"u64\": -1}", "u64", "out of range for uint64: -1");
    s_refused(&s_sample_descriptor, "{\"f64\": \"18446744073709551616\"}", "f64",
              "out of range for fixed64");
    s_refused(&s_sample_descriptor, "{\"fl\": 1e39}", "fl", "out of range for float: 1e39");
    s_refused(&s_sample_descriptor, "{\"db\": NaN}", "db", "not a finite number");
    s_refused(&s_sample_descriptor, "{\"db\": 1e999}", "db", "not a finite number");
    s_refused(&s_sample_descriptor, "{\"db\": \"0x10\"}", "db", "expected a number");
    s_refused(&s_sample_descriptor, "{\"db\": {}}", "db", "expected a number, got {}");
    s_refused(&s_sample_descriptor, "{\"b\": \"true\"}", "b", "expected true or false");
    s_refused(&s_sample_descriptor, "{\"b\": 1}", "b", "expected true or false, got 1");
    s_refused(&s_sample_descriptor, "{\"s\": 5}", "s", "expected a string, got 5");
    s_refused(&s_sample_descriptor, "{\"s\": \"a\\u0000b\"}", "s", "NUL character");
    s_refused(&s_sample_descriptor, "{\"by\": \"not base64!\"}", "by", "not base64");
    s_refused(&s_sample_descriptor, "{\"by\": \"Zg=\"}", "by", "not base64");
    s_refused(&s_sample_descriptor, "{\"by\": \"Z\"}", "by", "not base64");
    s_refused(&s_sample_descriptor, "{\"by\": 12}", "by", "expected base64 text");
    s_refused(&s_sample_descriptor, "{\"text\": \"a\", \"num\": 2}", "num",
              "only one of text and num may be set");
    s_refused(&s_sample_descriptor, "{\"child\": {\"child\": {\"sts\": [\"OK\", \"NOPE\"]}}}",
              "child.child.sts[1]", "unknown value \"NOPE\"");
    s_refused(&s_sample_descriptor, "{\"child\": 3}", "child",
              "expected an object (kontor.test.Sample), got 3");
    s_refused(&kontor__method_info__descriptor, "{\"roles\": \"admin\"}", "roles",
              "expected an array, got \"admin\"");
    s_refused(&kontor__method_info__descriptor, "{\"roles\": [\"admin\", null]}", "roles[1]",
              "null is not allowed in a list");
    s_refused(reserve, "{\"lines\": [5]}", "lines[0]", "expected an object");
    s_refused(reserve, "[1, 2]", "", "expected an object (kontor.logistics.ReserveStockRequest)");
    s_refused(reserve, "\"x\"", "", "expected an object");

    //  A long value is quoted cut short.
    char longer[400];
    snprintf(longer, sizeof longer, "{\"order_id\": \"%0300dx\"}", 7);
    assert_null(kontor_json_decode(reserve, longer, strlen(longer), &err));
    assert_non_null(strstr(err.message, "expected an integer, got \"000"));
    assert_non_null(strstr(err.message, "..."));
    assert_true(strlen(err.message) < 150);
}

//  A syntax error at `line`, `column` saying `what`.
static void s_syntax(const char *text, size_t len, int line, int column, const char *what)
{
    kontor_json_error_t err;
    struct json_object *json = kontor_json_parse(text, len, &err);
    if (json) {
        json_object_put(json);
        fail_msg("parsed %s", text);
    }
    if (err.line != line || err.column != column || !strstr(err.message, what))
        fail_msg("%s: got %d:%d '%s'; wanted %d:%d '%s'", text, err.line, err.column, err.message,
                 line, column, what);
    assert_string_equal(err.field, "");
}

static void test_refused_syntax(void **state)
{
    const char *trailing_comma = "{\n  \"order_id\": 1,\n  \"lines\": [{\"sku\": 1,}]\n}";
    s_syntax(trailing_comma, strlen(trailing_comma), 3, 23, "line 3, column 23: ");
    s_syntax("{} x", 4, 1, 4, "");
    s_syntax("{\"a\": 1} {\"b\": 2}", 17, 1, 10, "");
    s_syntax("{\"a\": tru}", 10, 1, 10, "boolean expected");
    s_syntax("", 0, 1, 1, "no JSON text");
    s_syntax("   \n ", 5, 2, 2, "no JSON text");
    s_syntax("{\"order_id\": 1", 14, 1, 15, "ends too early");
    s_syntax("{\"a\":\n\"ü\xff\"}", 12, 2, 3, "utf-8");
    s_syntax("{\"a\": 1\0}", 9, 1, 8, "NUL byte");
    s_syntax("{\"a\":\n  [1, 18446744073709551616]}", 34, 2, 7, "integer beyond 64 bits");
    s_syntax("{\"a\": -9223372036854775809}", 27, 1, 7, "integer beyond 64 bits");
    s_syntax("{\"a\": 01}", 9, 1, 9, "number expected");

    //  Nesting and size are bounded.
    char deep[2 * KONTOR_JSON_MAX_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < KONTOR_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < KONTOR_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    kontor_json_error_t err;
    assert_null(kontor_json_parse(deep, n, &err));
    assert_non_null(strstr(err.message, "nesting too deep"));
    assert_int_equal(err.line, 1);

    size_t big = KONTOR_JSON_MAX_BYTES + 1;
    char *huge = s_xmalloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    assert_null(kontor_json_parse(huge, big, &err));
    assert_non_null(strstr(err.message, "larger than"));
    free(huge);

    //  Within the bounds, deep and wide are fine; integers at the 64-bit edges too.
    const char *edges = "[-9223372036854775808, 18446744073709551615, \"99999999999999999999\"]";
    struct json_object *json = kontor_json_parse(edges, strlen(edges), &err);
    assert_non_null(json);
    json_object_put(json);
}

//  ---------------------------------------------------------------- helpers

static void test_nearest(void **state)
{
    assert_int_equal(kontor_distance("kitten", "sitting"), 3);
    assert_int_equal(kontor_distance("", "abc"), 3);
    assert_int_equal(kontor_distance("Status", "status"), 0);
    assert_int_equal(kontor_distance("ReserveStok", "ReserveStock"), 1);
    kontor_nearest_t near;
    kontor_nearest_init(&near, "ordrs");
    assert_null(near.best);
    kontor_nearest_add(&near, "bus");
    kontor_nearest_add(&near, "orders");
    kontor_nearest_add(&near, "clients");
    assert_string_equal(near.best, "orders");
    assert_int_equal(near.distance, 1);
}

static void test_base64(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *text = kontor_base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
        assert_string_equal(text, coded[i]);
        free(text);
        uint8_t *data = NULL;
        size_t len = 0;
        assert_int_equal(kontor_base64_decode(coded[i], strlen(coded[i]), &data, &len), 0);
        assert_int_equal(len, strlen(plain[i]));
        assert_memory_equal(data, plain[i], len);
        free(data);
        //  Unpadded reads the same.
        size_t bare = strcspn(coded[i], "=");
        assert_int_equal(kontor_base64_decode(coded[i], bare, &data, &len), 0);
        assert_int_equal(len, strlen(plain[i]));
        free(data);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(kontor_base64_decode("Zm9v!", 5, &data, &len), -1);
    assert_null(data);
    assert_int_equal(kontor_base64_decode("Zm9vY", 5, &data, &len), -1);
    assert_int_equal(kontor_base64_decode("Z===", 4, &data, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_is_complete_and_sorted),
        cmocka_unit_test(test_round_trip_every_registered_type),
        cmocka_unit_test(test_round_trip_every_field_type),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_accepted_forms),
        cmocka_unit_test(test_refused_names),
        cmocka_unit_test(test_refused_values),
        cmocka_unit_test(test_refused_syntax),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
