/*  receivables_server - the receivables service: its method table and process hooks.
 */
#ifndef RECEIVABLES_SERVER_H
#define RECEIVABLES_SERVER_H

#include "kt_service.h"

extern const kt_service_def_t receivables_service;

#endif
