/*  kontor-clients - the clients service process.
 *
 *  Thin: everything a service process does is in kt_service_main; what this
 *  service is, is in clients_server.c.
 */
#include "clients_server.h"

int main(int argc, char **argv)
{
    return kt_service_main(&clients_service, argc, argv);
}
