/*  kt_wire - turning bytes into trusted messages and back.
 *
 *  The only file in common/ that includes generated protobuf code; everything
 *  else sees kt_request_t, kt_reply_t and kt_principal_t.
 */
#include "kt_wire.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "kontor.pb-c.h"
#include "kt_status.h"
#include "kt_validate.h"

//  Deepest nesting we walk; Kontor's contracts are far shallower, and a
//  bound keeps hostile input from exhausting the stack.
#define S_MAX_DEPTH 16

//  Only used when the kernel's random source fails: ids must be unique, not secret.
static _Atomic unsigned long s_id_counter;

static void s_set(char *dst, size_t size, const char *src)
{
    if (dst && size)
        snprintf(dst, size, "%s", src);
}

static void s_path(char *dst, size_t size, const char *prefix, const char *name, long index)
{
    if (!dst || !size)
        return;
    if (index >= 0)
        snprintf(dst, size, "%s%s%s[%ld]", prefix, *prefix ? "." : "", name, index);
    else
        snprintf(dst, size, "%s%s%s", prefix, *prefix ? "." : "", name);
}

static int s_check(const ProtobufCMessage *msg, const char *prefix, int depth, char *field,
                   size_t field_size, char *why, size_t why_size);

//  Check one value of field `fd` stored at `member`. `path` names it.
static int s_check_value(const ProtobufCFieldDescriptor *fd, const void *member,
                         const char *path, int depth, char *field, size_t field_size, char *why,
                         size_t why_size)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) member;
        if (s && !kt_utf8_valid(s, strlen(s))) {
            s_set(field, field_size, path);
            snprintf(why, why_size, "%s is not valid UTF-8", path);
            return -1;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *) member;
        const ProtobufCEnumDescriptor *ed = fd->descriptor;
        if (!protobuf_c_enum_descriptor_get_value(ed, v)) {
            s_set(field, field_size, path);
            snprintf(why, why_size, "%s has no value %d", path, v);
            return -1;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) member;
        if (!sub)
            return 0;
        return s_check(sub, path, depth + 1, field, field_size, why, why_size);
    }
    default:
        return 0;
    }
}

static int s_check(const ProtobufCMessage *msg, const char *prefix, int depth, char *field,
                   size_t field_size, char *why, size_t why_size)
{
    if (depth > S_MAX_DEPTH) {
        s_set(field, field_size, prefix);
        snprintf(why, why_size, "message is nested too deeply");
        return -1;
    }
    if (msg->n_unknown_fields > 0) {
        char path[KT_FIELD_MAX + 1];
        char tag[32];
        snprintf(tag, sizeof tag, "#%u", msg->unknown_fields[0].tag);
        s_path(path, sizeof path, prefix, tag, -1);
        s_set(field, field_size, path);
        snprintf(why, why_size, "unknown field %u in %s", msg->unknown_fields[0].tag,
                 msg->descriptor->short_name);
        return -1;
    }
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const char *base = (const char *) msg;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &desc->fields[i];
        if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_ENUM
            && fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        //  A oneof member is present only when its case names it.
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) (base + fd->quantifier_offset);
            if (which != fd->id)
                continue;
        }
        char path[KT_FIELD_MAX + 1];
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + fd->quantifier_offset);
            const char *array = *(char *const *) (base + fd->offset);
            size_t elem = fd->type == PROTOBUF_C_TYPE_ENUM ? sizeof(int) : sizeof(void *);
            for (size_t k = 0; k < n; k++) {
                s_path(path, sizeof path, prefix, fd->name, (long) k);
                if (s_check_value(fd, array + k * elem, path, depth, field, field_size, why,
                                  why_size)
                    != 0)
                    return -1;
            }
        } else {
            if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset
                && fd->type == PROTOBUF_C_TYPE_ENUM
                && !*(const protobuf_c_boolean *) (base + fd->quantifier_offset))
                continue;
            s_path(path, sizeof path, prefix, fd->name, -1);
            if (s_check_value(fd, base + fd->offset, path, depth, field, field_size, why,
                              why_size)
                != 0)
                return -1;
        }
    }
    return 0;
}

int kt_msg_check(const ProtobufCMessage *msg, char *field, size_t field_size, char *why,
                 size_t why_size)
{
    char scratch[8];
    if (!why) {
        why = scratch;
        why_size = sizeof scratch;
    }
    if (field && field_size)
        field[0] = '\0';
    return s_check(msg, "", 0, field, field_size, why, why_size);
}

ProtobufCMessage *kt_msg_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                size_t len, char *field, size_t field_size, char *why,
                                size_t why_size)
{
    char scratch[8];
    if (!why) {
        why = scratch;
        why_size = sizeof scratch;
    }
    if (field && field_size)
        field[0] = '\0';
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, data);
    if (!msg) {
        snprintf(why, why_size, "message does not decode as %s", desc->short_name);
        return NULL;
    }
    if (s_check(msg, "", 0, field, field_size, why, why_size) != 0) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

void kt_msg_free(ProtobufCMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

uint8_t *kt_msg_pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    //  malloc(0) may return NULL; an empty message still gets a buffer.
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack(msg, buf);
    assert(*len == size);
    return buf;
}

void kt_strlcpy_utf8(char *dst, const char *src, size_t size)
{
    if (!size)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= size) {
        n = size - 1;
        //  Step back over continuation bytes so no character is cut in half.
        while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

//  Copy a bounded envelope string; -1 if it is longer than the bound.
static int s_take(char *dst, size_t size, const char *src, const char *what, char *why,
                  size_t why_size)
{
    size_t n = strlen(src);
    if (n >= size) {
        snprintf(why, why_size, "%s is too long: %zu bytes, at most %zu", what, n, size - 1);
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

//  Copy a decoded envelope's payload into a buffer of the caller's own: at
//  least one byte, so an empty payload is not NULL. -1 if out of memory.
static int s_take_payload(uint8_t **dst, size_t *dst_len, ProtobufCBinaryData src, char *why,
                          size_t why_size)
{
    *dst = malloc(src.len ? src.len : 1);
    if (!*dst) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    if (src.len)
        memcpy(*dst, src.data, src.len);
    *dst_len = src.len;
    return 0;
}

static bool s_method_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

int kt_request_decode(const uint8_t *data, size_t len, kt_request_t *out, char *why,
                      size_t why_size)
{
    memset(out, 0, sizeof *out);
    char field[KT_FIELD_MAX + 1];
    Kontor__Request *req = (Kontor__Request *) kt_msg_unpack(
        &kontor__request__descriptor, data, len, field, sizeof field, why, why_size);
    if (!req)
        return -1;
    int rc = -1;
    if (s_take(out->method, sizeof out->method, req->method, "method", why, why_size) != 0
        || s_take(out->request_id, sizeof out->request_id, req->request_id, "request_id", why,
                  why_size)
               != 0
        || s_take(out->idem_key, sizeof out->idem_key, req->idempotency_key, "idempotency_key",
                  why, why_size)
               != 0)
        goto cleanup;
    if (!s_method_name_ok(out->method)) {
        snprintf(why, why_size, "method must be a name of letters and digits");
        goto cleanup;
    }
    if (!out->request_id[0]) {
        snprintf(why, why_size, "request_id must not be empty");
        goto cleanup;
    }
    out->timeout_ms = req->timeout_ms;
    if (s_take_payload(&out->payload, &out->payload_len, req->payload, why, why_size) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    kontor__request__free_unpacked(req, NULL);
    if (rc != 0)
        kt_request_clear(out);
    return rc;
}

uint8_t *kt_request_encode(const kt_request_t *req, size_t *len)
{
    Kontor__Request msg = KONTOR__REQUEST__INIT;
    msg.method = (char *) req->method;
    msg.request_id = (char *) req->request_id;
    msg.idempotency_key = (char *) req->idem_key;
    msg.timeout_ms = req->timeout_ms;
    msg.payload.data = req->payload;
    msg.payload.len = req->payload_len;
    return kt_msg_pack(&msg.base, len);
}

int kt_reply_decode(const uint8_t *data, size_t len, kt_reply_t *out, char *why,
                    size_t why_size)
{
    memset(out, 0, sizeof *out);
    char field[KT_FIELD_MAX + 1];
    Kontor__Reply *rep = (Kontor__Reply *) kt_msg_unpack(&kontor__reply__descriptor, data, len,
                                                          field, sizeof field, why, why_size);
    if (!rep)
        return -1;
    int rc = -1;
    if (s_take(out->request_id, sizeof out->request_id, rep->request_id, "request_id", why,
               why_size)
        != 0)
        goto cleanup;
    //  Texts from a peer are shown to people; keep them bounded, whole characters.
    kt_strlcpy_utf8(out->message, rep->message, sizeof out->message);
    kt_strlcpy_utf8(out->field, rep->field, sizeof out->field);
    kt_strlcpy_utf8(out->reason, rep->reason, sizeof out->reason);
    kt_strlcpy_utf8(out->hint, rep->hint, sizeof out->hint);
    out->status = rep->status;
    if (s_take_payload(&out->payload, &out->payload_len, rep->payload, why, why_size) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    kontor__reply__free_unpacked(rep, NULL);
    if (rc != 0)
        kt_reply_clear(out);
    return rc;
}

uint8_t *kt_reply_encode(const kt_reply_t *reply, size_t *len)
{
    Kontor__Reply msg = KONTOR__REPLY__INIT;
    msg.request_id = (char *) reply->request_id;
    msg.status = (Kontor__Status) reply->status;
    msg.message = (char *) reply->message;
    msg.field = (char *) reply->field;
    msg.reason = (char *) reply->reason;
    msg.hint = (char *) reply->hint;
    msg.payload.data = reply->payload;
    msg.payload.len = reply->payload_len;
    return kt_msg_pack(&msg.base, len);
}

void kt_request_clear(kt_request_t *req)
{
    if (!req)
        return;
    free(req->payload);
    memset(req, 0, sizeof *req);
}

void kt_reply_clear(kt_reply_t *reply)
{
    if (!reply)
        return;
    free(reply->payload);
    memset(reply, 0, sizeof *reply);
}

void kt_reply_set(kt_reply_t *reply, int status, const char *field, const char *reason,
                  const char *message)
{
    reply->status = status;
    kt_strlcpy_utf8(reply->field, field ? field : "", sizeof reply->field);
    kt_strlcpy_utf8(reply->reason, reason ? reason : "", sizeof reply->reason);
    kt_strlcpy_utf8(reply->message, message ? message : kt_status_sentence(status),
                    sizeof reply->message);
}

uint8_t *kt_principal_encode(const kt_principal_t *p, uint32_t budget_ms, size_t *len)
{
    Kontor__Principal msg = KONTOR__PRINCIPAL__INIT;
    msg.name = (char *) p->name;
    msg.kind = (Kontor__PrincipalKind) p->kind;
    msg.manager_id = p->manager_id;
    msg.key = (char *) p->key;
    msg.budget_ms = budget_ms;
    return kt_msg_pack(&msg.base, len);
}

int kt_principal_decode(const uint8_t *data, size_t len, kt_principal_t *out,
                        uint32_t *budget_ms)
{
    memset(out, 0, sizeof *out);
    char why[128];
    Kontor__Principal *msg = (Kontor__Principal *) kt_msg_unpack(
        &kontor__principal__descriptor, data, len, NULL, 0, why, sizeof why);
    if (!msg)
        return -1;
    int rc = -1;
    if (strlen(msg->name) >= sizeof out->name || strlen(msg->key) >= sizeof out->key)
        goto cleanup;
    strcpy(out->name, msg->name);
    strcpy(out->key, msg->key);
    out->kind = msg->kind;
    out->manager_id = msg->manager_id;
    if (budget_ms)
        *budget_ms = msg->budget_ms;
    rc = 0;
cleanup:
    kontor__principal__free_unpacked(msg, NULL);
    return rc;
}

void kt_request_id_new(char *buf)
{
    uint8_t raw[16];
    //  getrandom on a 16-byte request never returns short for the urandom pool.
    if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw) {
        //  Fall back to something unique per process and call; ids need to
        //  be unique, not secret.
        unsigned long n = ++s_id_counter;
        memcpy(raw, &n, sizeof n);
        pid_t pid = getpid();
        memcpy(raw + 8, &pid, sizeof pid);
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[32] = '\0';
}
