/*  logistics_server - the logistics service: its method table and process hooks.
 *
 *  Every service also answers Status (kt_service.c).
 */
#include "logistics_server.h"

extern const kt_migration_t logistics_migrations[];

//  Methods of this service; flags and roles are checked by the dispatcher
//  before a handler runs.
static const kt_method_t s_methods[] = {
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

const kt_service_def_t logistics_service = {
    .name = "logistics",
    .methods = s_methods,
    .migrations = logistics_migrations,
    .uses_redis = false,
};
