/*  orders_server - the orders service: its method table and process hooks.
 *
 *  Every service also answers Status (kt_service.c).
 */
#include "orders_server.h"

extern const kt_migration_t orders_migrations[];

//  Methods of this service; flags and roles are checked by the dispatcher
//  before a handler runs.
static const kt_method_t s_methods[] = {
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

const kt_service_def_t orders_service = {
    .name = "orders",
    .methods = s_methods,
    .migrations = orders_migrations,
    .uses_redis = false,
};
