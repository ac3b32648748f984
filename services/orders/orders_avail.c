/*  orders_avail - availability for quotes and the early check: the Redis
 *  cache logistics keeps (one HMGET for every SKU of an order), and
 *  logistics' Availability for what the cache does not have or when Redis
 *  is down. Redis is never the truth: ReserveStock in logistics decides.
 *
 *  Cache layout (written by logistics): key "kontor:avail:<warehouse_id>",
 *  hash field "<sku>" = units available, in decimal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_status.h"
#include "logistics.pb-c.h"
#include "orders_internal.h"

#define S_AVAIL_MAX 200     //  SKUs one Availability call may ask for

ProtobufCMessage *orders_logistics_details(orders_ctx_t *ctx, int64_t warehouse_id,
                                           const int64_t *skus, size_t n, int *status)
{
    Kontor__Logistics__AvailabilityRequest req = KONTOR__LOGISTICS__AVAILABILITY_REQUEST__INIT;
    req.skus = (int64_t *) skus;
    req.n_skus = n;
    req.warehouse_id = warehouse_id;
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    kt_call_opts_t opts = {.timeout_ms = ctx->conf->call_ms, .retry = true};
    *status = kt_client_call(ctx->rpc, "logistics", "Availability", &req.base,
                             &kontor__logistics__availability_reply__descriptor, &out, &opts,
                             &reply);
    if (*status != KT_OK) {
        if (*status != KT_NOT_FOUND)
            kt_log(KT_LOG_WARN, ctx->request_id, "logistics Availability: %s: %s",
                   kt_status_name(*status), reply.message);
        kt_msg_free(out);
        out = NULL;
    }
    kt_reply_clear(&reply);
    return out;
}

//  Fill avail[] for the SKUs in `idx` (indexes into skus) from logistics.
static int s_from_logistics(orders_ctx_t *ctx, int64_t warehouse_id, const int64_t *skus,
                            const size_t *idx, size_t m, int64_t *avail)
{
    int64_t chunk[S_AVAIL_MAX];
    for (size_t from = 0; from < m; from += S_AVAIL_MAX) {
        size_t k = m - from < S_AVAIL_MAX ? m - from : S_AVAIL_MAX;
        for (size_t j = 0; j < k; j++)
            chunk[j] = skus[idx[from + j]];
        int status;
        ProtobufCMessage *out = orders_logistics_details(ctx, warehouse_id, chunk, k, &status);
        if (!out)
            continue;
        const Kontor__Logistics__AvailabilityReply *rep =
            (const Kontor__Logistics__AvailabilityReply *) out;
        for (size_t j = 0; j < k; j++) {
            //  A SKU logistics does not list is not in stock there.
            avail[idx[from + j]] = 0;
            for (size_t i = 0; i < rep->n_items; i++)
                if (rep->items[i]->sku == chunk[j])
                    avail[idx[from + j]] = rep->items[i]->available;
        }
        kt_msg_free(out);
    }
    return 0;
}

int orders_availability(orders_ctx_t *ctx, int64_t warehouse_id, const int64_t *skus, size_t n,
                        int64_t *avail)
{
    for (size_t i = 0; i < n; i++)
        avail[i] = -1;
    if (n == 0)
        return 0;
    size_t *missing = malloc(sizeof *missing * n);
    char (*fields)[24] = malloc(sizeof *fields * n);
    const char **fieldp = malloc(sizeof *fieldp * n);
    int *present = calloc(n, sizeof *present);
    if (!missing || !fields || !fieldp || !present) {
        free(missing);
        free(fields);
        free(fieldp);
        free(present);
        return 0;
    }
    bool cached = false;
    if (ctx->redis) {
        char key[64];
        snprintf(key, sizeof key, "kontor:avail:%lld", (long long) warehouse_id);
        for (size_t i = 0; i < n; i++) {
            snprintf(fields[i], sizeof fields[i], "%lld", (long long) skus[i]);
            fieldp[i] = fields[i];
        }
        cached = kt_redis_hmget_i64(ctx->redis, key, fieldp, n, avail, present) == 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cached || !present[i]) {
            avail[i] = -1;
            missing[m++] = i;
        }
    }
    if (m > 0)
        s_from_logistics(ctx, warehouse_id, skus, missing, m, avail);
    free(missing);
    free(fields);
    free(fieldp);
    free(present);
    return (int) m;
}
