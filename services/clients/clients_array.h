/*  clients_array - PostgreSQL array literals ({"a","b",NULL}) built from C
 *  values, to pass a column of a batch as ONE text parameter to
 *  unnest($1::text[], ...): a thousand rows in one statement.
 *
 *  Pure (no I/O). Every text element is double-quoted with '"' and '\'
 *  escaped, so nothing in a value is array syntax. An allocation failure is
 *  remembered and reported by clients_array_end.
 */
#ifndef CLIENTS_ARRAY_H
#define CLIENTS_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;   //  "{" elements so far
    size_t len;  //  bytes used
    size_t cap;  //  bytes allocated
    size_t n;    //  elements so far
    bool failed; //  an allocation failed
} clients_array_t;

//  An empty array.
void clients_array_init(clients_array_t *self);

//  Add a text element; NULL adds SQL NULL.
void clients_array_text(clients_array_t *self, const char *s);

//  Add an integer.
void clients_array_i64(clients_array_t *self, int64_t v);

//  Add a boolean.
void clients_array_bool(clients_array_t *self, bool v);

//  Add bytes as a bytea element in hex ("\\x0a1b").
void clients_array_bytea(clients_array_t *self, const uint8_t *data, size_t len);

//  Close the literal: the text to pass as the parameter (owned by self), or
//  NULL if memory ran out. Add nothing after.
const char *clients_array_end(clients_array_t *self);

//  Free; the array may be initialised again.
void clients_array_clear(clients_array_t *self);

#endif
