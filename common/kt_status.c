/*  kt_status - the one table of outcomes and refusal reasons.
 *
 *  Both tables are static and read-only, so every function here is safe from
 *  any thread. The status table is indexed by number: s_statuses[n].number == n
 *  is an invariant that tests/unit/test_status.c checks, along with agreement
 *  with the Status enum in proto/kontor.proto.
 */
#include "kt_status.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    int number;           //  gRPC status number, equal to the index
    const char *name;     //  gRPC status name, as in the proto enum
    const char *sentence; //  default sentence when a reply carries none
} s_status_t;

static const s_status_t s_statuses[KT_STATUS_COUNT] = {
    {KT_OK, "OK", "the request succeeded"},
    {KT_CANCELLED, "CANCELLED", "the request was cancelled by the caller"},
    {KT_UNKNOWN, "UNKNOWN", "the request failed for a reason that is not known"},
    {KT_INVALID_ARGUMENT, "INVALID_ARGUMENT", "the request has a field that is not valid"},
    {KT_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED",
     "the request took too long and was given up, try again"},
    {KT_NOT_FOUND, "NOT_FOUND", "something the request names does not exist"},
    {KT_ALREADY_EXISTS, "ALREADY_EXISTS", "something the request would create already exists"},
    {KT_PERMISSION_DENIED, "PERMISSION_DENIED", "you are not allowed to do this"},
    {KT_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED",
     "the service is too busy right now, try again shortly"},
    {KT_FAILED_PRECONDITION, "FAILED_PRECONDITION",
     "the request cannot be done in the current state"},
    {KT_ABORTED, "ABORTED", "the request conflicted with another change, try again"},
    {KT_OUT_OF_RANGE, "OUT_OF_RANGE", "the request asks for something past the valid range"},
    {KT_UNIMPLEMENTED, "UNIMPLEMENTED", "the service does not offer this request"},
    {KT_INTERNAL, "INTERNAL", "the service failed inside, this is a bug"},
    {KT_UNAVAILABLE, "UNAVAILABLE", "the service is not available right now, try again"},
    {KT_DATA_LOSS, "DATA_LOSS", "data was lost or damaged"},
    {KT_UNAUTHENTICATED, "UNAUTHENTICATED", "the caller could not be identified"},
};

//  Reasons are grouped by the area that refuses; tokens never change once
//  released, since programs switch on them.
static const kt_reason_t s_reasons[] = {
    //  Stock and reservations
    {"insufficient_stock", KT_FAILED_PRECONDITION, "not enough stock for some lines"},
    {"reservation_expired", KT_FAILED_PRECONDITION,
     "the reservation has expired, place the order again"},
    {"already_dispatched", KT_FAILED_PRECONDITION, "the goods have already been dispatched"},
    //  Clients and credit
    {"credit_limit_exceeded", KT_FAILED_PRECONDITION,
     "the order would take the client over the credit limit"},
    {"credit_hold", KT_FAILED_PRECONDITION, "the client is on credit hold"},
    {"client_blocked", KT_FAILED_PRECONDITION, "the client is blocked"},
    //  Things the request names
    {"unknown_sku", KT_NOT_FOUND, "a line names a product that does not exist"},
    {"unknown_client", KT_NOT_FOUND, "the client does not exist"},
    {"unknown_warehouse", KT_NOT_FOUND, "the warehouse does not exist"},
    {"unknown_order", KT_NOT_FOUND, "the order does not exist"},
    {"unknown_invoice", KT_NOT_FOUND, "the invoice does not exist"},
    //  Orders and invoices
    {"discount_over_authority", KT_PERMISSION_DENIED,
     "the discount is larger than your role may grant"},
    {"invalid_transition", KT_FAILED_PRECONDITION,
     "this cannot be done in the document's current state"},
    {"duplicate_line", KT_INVALID_ARGUMENT, "the same product appears on more than one line"},
    {"currency_mismatch", KT_FAILED_PRECONDITION, "the amounts are in different currencies"},
    {"invoice_void", KT_FAILED_PRECONDITION, "the invoice has been voided"},
    {"no_price", KT_FAILED_PRECONDITION,
     "a product has no price in the client's price column"},
    {"placement_abandoned", KT_ABORTED,
     "the order could not be finished in time and was undone; place it again"},
    //  Concurrency and retries
    {"idempotency_mismatch", KT_ABORTED,
     "the idempotency key was already used for a different request"},
    {"stale_version", KT_ABORTED,
     "someone else changed this in the meantime, reload and try again"},
    {"overloaded", KT_RESOURCE_EXHAUSTED, "the service is too busy right now, try again shortly"},
    //  Who may do what
    {"not_owner", KT_PERMISSION_DENIED, "this belongs to another manager"},
    {"role_required", KT_PERMISSION_DENIED, "your role does not allow this"},
    //  Event streams
    {"events_expired", KT_OUT_OF_RANGE, "the events asked for are older than the retention period"},
    {NULL, KT_OK, NULL},
};

const char *kt_status_name(int status)
{
    if (!kt_status_valid(status))
        return s_statuses[KT_UNKNOWN].name;
    return s_statuses[status].name;
}

const char *kt_status_sentence(int status)
{
    if (!kt_status_valid(status))
        return s_statuses[KT_UNKNOWN].sentence;
    return s_statuses[status].sentence;
}

int kt_status_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < KT_STATUS_COUNT; i++)
        if (strcmp(s_statuses[i].name, name) == 0)
            return s_statuses[i].number;
    return -1;
}

bool kt_status_valid(int status)
{
    return status >= 0 && status < KT_STATUS_COUNT;
}

bool kt_status_retryable(int status)
{
    return status == KT_UNAVAILABLE || status == KT_DEADLINE_EXCEEDED || status == KT_ABORTED ||
           status == KT_RESOURCE_EXHAUSTED;
}

const kt_reason_t *kt_reason_lookup(const char *token)
{
    if (token == NULL)
        return NULL;
    for (const kt_reason_t *r = s_reasons; r->token != NULL; r++)
        if (strcmp(r->token, token) == 0)
            return r;
    return NULL;
}

const kt_reason_t *kt_reasons(void)
{
    return s_reasons;
}
