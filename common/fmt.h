/* fmt.h - small text formatting shared by the command-line tools. */
#ifndef NMN_FMT_H
#define NMN_FMT_H

#include <stddef.h>

/* "42s", "3m07s", "2h05m"; "?" for a negative or non-finite duration. */
void fmt_duration(double seconds, char *buf, size_t len);

#endif
