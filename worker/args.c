/* args.c - command-line value parsing shared by the subcommands. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int args_long(const char *cmd, const char *flag, const char *text, long min,
              long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != 0 || errno == ERANGE) {
        fprintf(stderr, "nmn-worker %s: %s: '%s' is not an integer\n", cmd, flag, text);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "nmn-worker %s: %s: %ld is out of range [%ld, %ld]\n", cmd, flag, v,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

const char *args_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "nmn-worker %s: missing value after '%s'\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
