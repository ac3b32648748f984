/*  kontor_nearest - the valid name closest to a wrong one, for error messages.
 *
 *  "unknown method PlaceOrdr; did you mean PlaceOrder?": candidates are fed
 *  one by one (fields of a descriptor, values of an enum, services on the
 *  bus), and the one at the smallest Levenshtein distance wins, letters
 *  compared without case. Pure; no allocation.
 */
#ifndef KONTOR_NEAREST_H
#define KONTOR_NEAREST_H

#include <stddef.h>

typedef struct {
    const char *word; //  the wrong word (borrowed)
    const char *best; //  the closest candidate so far (borrowed), NULL before any
    size_t distance;  //  its distance
} kontor_nearest_t;

//  Start looking for the candidate nearest to `word`.
void kontor_nearest_init(kontor_nearest_t *self, const char *word);

//  Consider one candidate (borrowed: it must outlive `self`); the first of
//  equally near ones is kept.
void kontor_nearest_add(kontor_nearest_t *self, const char *candidate);

//  Edit distance between a and b (insertions, deletions, substitutions),
//  ASCII letters compared without case; names longer than 128 bytes are
//  compared on their first 128.
size_t kontor_distance(const char *a, const char *b);

#endif
