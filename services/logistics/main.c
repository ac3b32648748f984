/*  kontor-logistics - the logistics service process.
 *
 *  Thin: everything a service process does is in kt_service_main; what this
 *  service is, is in logistics_server.c.
 */
#include "logistics_server.h"

int main(int argc, char **argv)
{
    return kt_service_main(&logistics_service, argc, argv);
}
