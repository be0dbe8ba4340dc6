/* fmt.c - text formatting helpers. */
#include "fmt.h"

#include <math.h>
#include <stdio.h>

void fmt_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0 || s > 1e9)
        snprintf(buf, len, "?");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}
