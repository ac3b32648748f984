/*  kontor_registry - looking a message type up by its full name.  */
#include "kontor_registry.h"

#include <string.h>

const ProtobufCMessageDescriptor *kontor_registry_lookup(const char *full_name)
{
    //  The generator sorts the table (LC_ALL=C, i.e. strcmp order).
    size_t lo = 0, hi = kontor_registry_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(full_name, kontor_registry[mid].full_name);
        if (cmp == 0)
            return kontor_registry[mid].descriptor;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
