/*  orders_server - the orders service: its method table and process hooks.
 */
#ifndef ORDERS_SERVER_H
#define ORDERS_SERVER_H

#include "kt_service.h"

extern const kt_service_def_t orders_service;

#endif
