/*  kontor-receivables - the receivables service process.
 *
 *  Thin: everything a service process does is in kt_service_main; what this
 *  service is, is in receivables_server.c.
 */
#include "receivables_server.h"

int main(int argc, char **argv)
{
    return kt_service_main(&receivables_service, argc, argv);
}
