/*  kt_status - the one table of outcomes and refusal reasons.
 *
 *  Statuses follow gRPC's names and numbers; proto/kontor.proto's Status enum
 *  mirrors this table and tests/unit/test_status.c checks that they agree.
 *  Refusal reasons are the machine-readable half of a FAILED_PRECONDITION (or
 *  other) reply: a token a program can switch on, with a default sentence a
 *  manager understands.
 */
#ifndef KT_STATUS_H
#define KT_STATUS_H

#include <stdbool.h>

typedef enum {
    KT_OK = 0,
    KT_CANCELLED = 1,
    KT_UNKNOWN = 2,
    KT_INVALID_ARGUMENT = 3,
    KT_DEADLINE_EXCEEDED = 4,
    KT_NOT_FOUND = 5,
    KT_ALREADY_EXISTS = 6,
    KT_PERMISSION_DENIED = 7,
    KT_RESOURCE_EXHAUSTED = 8,
    KT_FAILED_PRECONDITION = 9,
    KT_ABORTED = 10,
    KT_OUT_OF_RANGE = 11,
    KT_UNIMPLEMENTED = 12,
    KT_INTERNAL = 13,
    KT_UNAVAILABLE = 14,
    KT_DATA_LOSS = 15,
    KT_UNAUTHENTICATED = 16,
} kt_status_t;

#define KT_STATUS_COUNT 17

//  Name of a status ("INVALID_ARGUMENT"), or "UNKNOWN" for a number outside the table.
const char *kt_status_name(int status);

//  Default sentence for a status, used when a reply carries none.
const char *kt_status_sentence(int status);

//  Status for a name, case-sensitive; -1 if there is none.
int kt_status_from_name(const char *name);

//  True if the number is a status in the table.
bool kt_status_valid(int status);

//  True for outcomes where trying the same call again later may succeed
//  (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED).
bool kt_status_retryable(int status);

//  A refusal reason: a stable token and the sentence a manager reads.
typedef struct {
    const char *token;      //  "insufficient_stock"
    int status;             //  the status such a refusal carries
    const char *sentence;   //  "not enough stock for some lines"
} kt_reason_t;

//  The reason with this token, or NULL.
const kt_reason_t *kt_reason_lookup(const char *token);

//  Every reason, terminated by an entry whose token is NULL.
const kt_reason_t *kt_reasons(void);

#endif
