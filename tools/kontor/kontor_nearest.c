/*  kontor_nearest - Levenshtein distance and the nearest of a set of names.  */
#include "kontor_nearest.h"

#include <ctype.h>
#include <string.h>

#define S_MAX_LEN 128 //  names are short; longer words are cut, not refused

size_t kontor_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, S_MAX_LEN), lb = strnlen(b, S_MAX_LEN);
    //  Two rows of the classic table: prev[j] is the distance between a's
    //  first i-1 bytes and b's first j.
    size_t rows[2][S_MAX_LEN + 1];
    size_t *prev = rows[0], *cur = rows[1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = ca == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        size_t *swap = prev;
        prev = cur;
        cur = swap;
    }
    return prev[lb];
}

void kontor_nearest_init(kontor_nearest_t *self, const char *word)
{
    self->word = word;
    self->best = NULL;
    self->distance = 0;
}

void kontor_nearest_add(kontor_nearest_t *self, const char *candidate)
{
    if (!candidate)
        return;
    size_t d = kontor_distance(self->word, candidate);
    if (!self->best || d < self->distance) {
        self->best = candidate;
        self->distance = d;
    }
}
