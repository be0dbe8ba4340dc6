/* fit.h - how well a target can be read off features: the R^2 of an
 * ordinary least-squares fit with intercept (Figure 3's "alpha from z"). */
#ifndef NMN_FIT_H
#define NMN_FIT_H

/* R^2 = 1 - SS_res / SS_tot of y (n) on the columns of X (n rows, k columns,
 * row-major) plus an intercept. Columns that are constant or linear
 * combinations of earlier ones add nothing (a dead z unit is common).
 * Returns NAN when y is constant or memory runs out. */
double fit_r2(const double *X, const double *y, int n, int k);

#endif
