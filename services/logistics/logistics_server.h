/*  logistics_server - the logistics service: its method table and process hooks.
 */
#ifndef LOGISTICS_SERVER_H
#define LOGISTICS_SERVER_H

#include "kt_service.h"

extern const kt_service_def_t logistics_service;

#endif
