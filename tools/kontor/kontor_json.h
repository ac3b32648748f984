/*  kontor_json - JSON to protobuf messages and back, from descriptors alone.
 *
 *  Any message type protoc-c generated can be read from and written as JSON
 *  by walking its ProtobufCMessageDescriptor, so `kontor call` needs no code
 *  per method. The mapping:
 *
 *    message       an object; keys are the field names of the .proto file;
 *                  a missing field or null takes the field's default
 *    int32, uint32 a JSON number (a decimal string is accepted)
 *    int64, uint64 a number when |v| < 2^53 (exact in every JSON reader),
 *                  else a decimal string; both are accepted on input
 *    float, double a number; "NaN", "Infinity", "-Infinity" as strings
 *    bool          true or false
 *    enum          the value's name; a known value's number is accepted
 *    string        a string (UTF-8, no NUL character)
 *    bytes         standard base64 with padding (URL-safe or unpadded accepted)
 *    repeated      an array (null inside one is refused)
 *    oneof         at most one member present
 *
 *  Writing emits every field (defaults too, an absent message as null), in
 *  the .proto's order, except oneof members and optional fields not set.
 *  Reading is strict: an unknown field, a value of the wrong type or out of
 *  range, an unknown enum name all fail with the field's path and what was
 *  given ("lines[1].qty: expected an integer, got \"ten\""); an unknown name
 *  comes with the nearest valid one. Input is bounded in size and depth.
 *
 *  Pure: no I/O. Messages built here are allocated with malloc, so
 *  kt_msg_free (protobuf_c_message_free_unpacked with the default
 *  allocator) frees them.
 */
#ifndef KONTOR_JSON_H
#define KONTOR_JSON_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#define KONTOR_JSON_MAX_BYTES (8u << 20) //  largest JSON text read (8 MiB)
#define KONTOR_JSON_MAX_DEPTH 32         //  deepest nesting of objects and arrays
#define KONTOR_JSON_FIELD_MAX 256        //  bytes of a field path kept

struct json_object;

//  What went wrong reading JSON.
typedef struct {
    char field[KONTOR_JSON_FIELD_MAX]; //  path of the field at fault ("lines[1].qty"), or ""
    int line;                          //  1-based position of a syntax error; 0 for other errors
    int column;                        //  in characters (UTF-8 sequences count as one)
    char message[800];                 //  the whole sentence, position or path first
} kontor_json_error_t;

//  Parse `len` bytes of JSON text (`text` needs no NUL at the end). Returns
//  a new json-c value (release with json_object_put), or NULL with `err`
//  filled: a syntax error with its line and column, text over
//  KONTOR_JSON_MAX_BYTES, nesting over KONTOR_JSON_MAX_DEPTH, an integer
//  that no 64-bit field could hold.
struct json_object *kontor_json_parse(const char *text, size_t len, kontor_json_error_t *err);

//  Build a message of type `desc` from `json`, which must be an object.
//  Returns the message (free with kt_msg_free) or NULL with `err` filled.
ProtobufCMessage *kontor_json_to_msg(const ProtobufCMessageDescriptor *desc,
                                     struct json_object *json, kontor_json_error_t *err);

//  Both of the above: text to message.
ProtobufCMessage *kontor_json_decode(const ProtobufCMessageDescriptor *desc, const char *text,
                                     size_t len, kontor_json_error_t *err);

//  A message as a new json-c object (release with json_object_put); NULL
//  only when out of memory.
struct json_object *kontor_json_from_msg(const ProtobufCMessage *msg);

//  A message as JSON text, indented over lines when `pretty`, else on one
//  line. Malloc'd, caller frees; NULL only when out of memory.
char *kontor_json_encode(const ProtobufCMessage *msg, bool pretty);

//  The .proto name of a field type: "int64", "string", "message", ...
const char *kontor_json_type_name(ProtobufCType type);

//  Base64 (standard alphabet, padded) of `len` bytes: malloc'd text, caller
//  frees; NULL when out of memory.
char *kontor_base64_encode(const uint8_t *data, size_t len);

//  Decode base64, standard or URL-safe alphabet, padded or not, into a new
//  buffer (*out, caller frees; non-NULL even when empty) of *out_len bytes.
//  Returns 0, -1 if the text is not base64, -2 when out of memory.
int kontor_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

#endif
