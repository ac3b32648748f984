/*  clients_server - the clients service: its method table and process hooks.
 */
#ifndef CLIENTS_SERVER_H
#define CLIENTS_SERVER_H

#include "kt_service.h"

extern const kt_service_def_t clients_service;

#endif
