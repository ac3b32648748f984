/*  kontor_registry - every protobuf message type kontor was built with.
 *
 *  The table itself is generated at build time from protoc-c's output
 *  (tools/kontor/gen-registry.sh writes build/gen/kt_registry.c), so a
 *  message added to any proto file is known to `kontor call` and
 *  `kontor describe` without a line of CLI code. Sorted by full name.
 */
#ifndef KONTOR_REGISTRY_H
#define KONTOR_REGISTRY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct {
    const char *full_name;                        //  "kontor.logistics.ReserveStockRequest"
    const ProtobufCMessageDescriptor *descriptor; //  its protoc-c descriptor
} kontor_registry_entry_t;

//  Defined by the generated build/gen/kt_registry.c.
extern const kontor_registry_entry_t kontor_registry[];
extern const size_t kontor_registry_count;

//  The descriptor of the message named `full_name`, or NULL.
const ProtobufCMessageDescriptor *kontor_registry_lookup(const char *full_name);

#endif
