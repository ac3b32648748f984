/*  kt_wire - turning bytes into trusted messages and back.
 *
 *  protobuf-c decodes almost any bytes as almost any message: it keeps
 *  unknown fields, keeps enum numbers it does not know, and does not check
 *  UTF-8. kt_msg_unpack closes those doors for every message Kontor receives:
 *  the payload must decode as the type the method declares, with no unknown
 *  field at any depth, every enum value known, and every string valid UTF-8.
 *  It reports the field at fault by its path ("lines[2].sku") so the caller
 *  can name it in its INVALID_ARGUMENT reply.
 *
 *  The envelope types (Request, Reply, Principal) are exposed here as plain
 *  structs so that generated names stay out of common's API.
 */
#ifndef KT_WIRE_H
#define KT_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_auth.h"

#define KT_METHOD_MAX 64    //  bytes in a method name
#define KT_ID_MAX 64        //  bytes in a request id
#define KT_KEY_MAX 128      //  bytes in an idempotency key
#define KT_MESSAGE_MAX 512  //  bytes in a reply's sentence or hint
#define KT_FIELD_MAX 128    //  bytes in a field path
#define KT_REASON_MAX 48    //  bytes in a refusal reason token

//  Unpack `data` as a message of type `desc`, strictly (see above). Returns
//  the message (free with kt_msg_free) or NULL; on NULL, `field` (if not
//  NULL) names the field at fault ("" when the bytes do not decode at all)
//  and `why` says what is wrong in a sentence.
ProtobufCMessage *kt_msg_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                                size_t len, char *field, size_t field_size, char *why,
                                size_t why_size);

//  Check an already-built or unpacked message the same way. 0 if clean.
int kt_msg_check(const ProtobufCMessage *msg, char *field, size_t field_size, char *why,
                 size_t why_size);

//  Free a message from kt_msg_unpack; accepts NULL.
void kt_msg_free(ProtobufCMessage *msg);

//  Pack into a new buffer (caller frees); *len gets its size. NULL only when
//  out of memory.
uint8_t *kt_msg_pack(const ProtobufCMessage *msg, size_t *len);

//  A request as it travels from caller to worker.
typedef struct {
    char method[KT_METHOD_MAX + 1];
    char request_id[KT_ID_MAX + 1];
    char idem_key[KT_KEY_MAX + 1];
    uint32_t timeout_ms;
    uint8_t *payload;       //  owned; free with kt_request_clear
    size_t payload_len;
} kt_request_t;

//  A reply as it travels back.
typedef struct {
    char request_id[KT_ID_MAX + 1];
    int status;                         //  kt_status_t
    char message[KT_MESSAGE_MAX + 1];
    char field[KT_FIELD_MAX + 1];
    char reason[KT_REASON_MAX + 1];
    char hint[KT_MESSAGE_MAX + 1];
    uint8_t *payload;                   //  owned; free with kt_reply_clear
    size_t payload_len;
} kt_reply_t;

//  Decode/encode the envelope. Decoding is strict and checks every length
//  bound above (method: letters and digits only). Returns 0, or -1 with a
//  sentence in `why`. Encoding returns a new buffer (caller frees) or NULL.
int kt_request_decode(const uint8_t *data, size_t len, kt_request_t *out, char *why,
                      size_t why_size);
uint8_t *kt_request_encode(const kt_request_t *req, size_t *len);
int kt_reply_decode(const uint8_t *data, size_t len, kt_reply_t *out, char *why,
                    size_t why_size);
uint8_t *kt_reply_encode(const kt_reply_t *reply, size_t *len);

//  Free what a request/reply owns and zero it; accept NULL.
void kt_request_clear(kt_request_t *req);
void kt_reply_clear(kt_reply_t *reply);

//  Fill a reply with a status and sentence (payload untouched).
void kt_reply_set(kt_reply_t *reply, int status, const char *field, const char *reason,
                  const char *message);

//  The principal frame the bus stamps: encode (new buffer, caller frees) and
//  decode (0 or -1). budget_ms is what is left of the caller's timeout.
uint8_t *kt_principal_encode(const kt_principal_t *p, uint32_t budget_ms, size_t *len);
int kt_principal_decode(const uint8_t *data, size_t len, kt_principal_t *out,
                        uint32_t *budget_ms);

//  A new random request id (32 lower-case hex digits) into buf (>= 33 bytes).
void kt_request_id_new(char *buf);

//  Copy src into a fixed buffer, truncating at a UTF-8 character boundary.
void kt_strlcpy_utf8(char *dst, const char *src, size_t size);

#endif
