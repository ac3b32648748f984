/*  kontor_seed - `kontor seed`: a realistic data set of a given size,
 *  loaded through the services' own methods.
 *
 *      kontor seed [--clients N] [--skus N] [--branches N] [--seed S] [--threads T]
 *
 *  argv[0] is "seed"; the rest are the command's options. Connection comes
 *  from the KONTOR_* environment as for every kontor command (the local
 *  set's admin by default). Returns the kontor exit code (kontor.h).
 */
#ifndef KONTOR_SEED_H
#define KONTOR_SEED_H

int kontor_seed_main(int argc, char **argv);

#endif
