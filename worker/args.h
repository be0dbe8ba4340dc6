/* args.h - strict parsing of command-line values for nmn-worker's
 * subcommands: each prints "nmn-worker CMD: what is wrong" and returns -1. */
#ifndef NMN_ARGS_H
#define NMN_ARGS_H

/* A whole decimal number in [min, max] (no trailing text). */
int args_long(const char *cmd, const char *flag, const char *text, long min,
              long max, long *out);
/* The value after argv[*i] (advancing *i), or NULL with a message. */
const char *args_value(const char *cmd, int argc, char **argv, int *i);

#endif
