/* ctl_query.h - nmnctl's read commands: they open the store read-only
 * (SQLite refuses any write) and never talk to nmnd. Each returns the exit
 * status: 0 ok, 1 user error, 2 the database cannot be read. */
#ifndef NMN_CTL_QUERY_H
#define NMN_CTL_QUERY_H

/* --json: results, curves and sql print a JSON array of row objects,
 * status one JSON object per sweep and line. */
void ctl_set_json(int on);
int ctl_results(const char *db, long sweep);
int ctl_curves(const char *db, long sweep, long window, const char *csv);
int ctl_sql(const char *db, const char *query, int csv);
/* One line per sweep (sweep < 0: all): a progress bar of episodes, jobs by
 * state, and for running jobs env-steps/s and an ETA from their latest
 * iterations. With watch, redraws every 2 s (in place on a terminal, plain
 * lines otherwise) until no job of them is queued or running. */
int ctl_status(const char *db, long sweep, int watch);
/* Figure 2 for a sweep: one panel per benchmark, per arch the mean running
 * return (1000 episodes) with a +-std band across seeds, drawn by gnuplot
 * into out_path (.png or .svg). */
int ctl_plot(const char *db, long sweep, const char *out_path);
/* One row per job of a sweep: state, episodes, attempts, error. */
int ctl_status_jobs(const char *db, long sweep);
/* Blocks until every job of the sweep has ended; 0 if all are done. */
int ctl_wait(const char *db, long sweep);

#endif
