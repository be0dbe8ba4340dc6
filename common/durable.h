/* durable.h - a file that is either all there or not there at all, even
 * after a crash: written to PATH.tmp, fsynced, renamed over PATH, and the
 * rename made durable by an fsync of the directory. Checkpoints rely on it:
 * the store records one only once it is durable. */
#ifndef NMN_DURABLE_H
#define NMN_DURABLE_H

#include <stddef.h>

/* Returns 0, or -1 with a message naming path (PATH.tmp is removed). */
int durable_write(const char *path, const void *data, size_t n, char *err, size_t errlen);

#endif
