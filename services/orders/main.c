/*  kontor-orders - the orders service process.
 *
 *  Thin: everything a service process does is in kt_service_main; what this
 *  service is, is in orders_server.c.
 */
#include "orders_server.h"

int main(int argc, char **argv)
{
    return kt_service_main(&orders_service, argc, argv);
}
