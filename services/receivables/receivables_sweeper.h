/*  receivables_sweeper - the housekeeping actor: expires credit holds that
 *  ran out and runs the daily dunning (receivables_sweeper.c).
 */
#ifndef RECEIVABLES_SWEEPER_H
#define RECEIVABLES_SWEEPER_H

#include <stdbool.h>

#include "kt_config.h"

typedef struct rcv_sweeper rcv_sweeper_t;

//  Start the actor on a connection of its own (`dsn`), waking every
//  `every_ms`; `daily`: also run the daily dunning. NULL if the database
//  cannot be reached.
rcv_sweeper_t *rcv_sweeper_new(const char *dsn, int every_ms, bool daily);

//  Stop and free; accepts NULL; nulls the pointer.
void rcv_sweeper_destroy(rcv_sweeper_t **self_p);

#endif
