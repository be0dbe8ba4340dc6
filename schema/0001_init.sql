-- 0001_init.sql - the farm's store: sweeps, jobs, their attempts, every
-- episode's return and every iteration's diagnostics, and the views that
-- compute learning curves. Times are UTC ISO-8601 text.

-- One submission of a sweep file. Submitting the same name and YAML again
-- finds this row instead of adding one.
CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    yaml       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (name, yaml)
);

-- A job is one resolved config (seed x benchmark x arch x hyperparameters);
-- its identity is the hash of its canonical config JSON, so the same job
-- is never stored (or trained) twice.
CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY,
    config_hash        TEXT NOT NULL UNIQUE,
    config_json        TEXT NOT NULL,
    benchmark          TEXT NOT NULL,
    arch               TEXT NOT NULL,
    seed               INTEGER NOT NULL,
    episodes           INTEGER NOT NULL,
    state              TEXT NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    priority           INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    current_attempt    INTEGER,
    episodes_done      INTEGER NOT NULL DEFAULT 0,
    checkpoint_path    TEXT,
    checkpoint_episode INTEGER,
    error              TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at         TEXT,
    finished_at        TEXT
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, id);

-- Which jobs a sweep holds; a job may belong to several sweeps.
CREATE TABLE sweep_jobs (
    sweep_id INTEGER NOT NULL REFERENCES sweeps (id),
    job_id   INTEGER NOT NULL REFERENCES jobs (id),
    PRIMARY KEY (sweep_id, job_id)
) WITHOUT ROWID;
CREATE INDEX sweep_jobs_job ON sweep_jobs (job_id);

-- Each run of a job. Only the job's current attempt may write results.
CREATE TABLE attempts (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL REFERENCES jobs (id),
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at   TEXT,
    outcome    TEXT CHECK (outcome IN ('done', 'failed', 'cancelled', 'requeued', 'lost')),
    executor   TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX attempts_job ON attempts (job_id);

-- One row per training episode, written exactly once.
CREATE TABLE episodes (
    job_id     INTEGER NOT NULL REFERENCES jobs (id),
    episode    INTEGER NOT NULL,
    return     REAL NOT NULL,
    hits       INTEGER NOT NULL,
    bad_hits   INTEGER NOT NULL,
    attempt_id INTEGER NOT NULL,
    PRIMARY KEY (job_id, episode)
) WITHOUT ROWID;

-- One row per PPO iteration (science.md section 5 diagnostics).
CREATE TABLE iterations (
    job_id        INTEGER NOT NULL REFERENCES jobs (id),
    iteration     INTEGER NOT NULL,
    episodes_done INTEGER NOT NULL,
    kl            REAL,
    beta          REAL,
    lr_mult       REAL,
    reverted      INTEGER,
    policy_loss   REAL,
    value_loss    REAL,
    mean_logvar   REAL,
    rollout_ms    REAL,
    update_ms     REAL,
    attempt_id    INTEGER NOT NULL,
    PRIMARY KEY (job_id, iteration)
) WITHOUT ROWID;

-- Per job and episode: the mean return of the last 1000 episodes (fewer at
-- the start), the paper's learning-curve smoothing.
CREATE VIEW running_mean AS
SELECT job_id, episode, return,
       AVG(return) OVER (PARTITION BY job_id ORDER BY episode
                         ROWS BETWEEN 999 PRECEDING AND CURRENT ROW) AS running_mean
FROM episodes;

-- Figure 2: per sweep, benchmark, arch and episode, the mean and the
-- population standard deviation across seeds of the running mean, and how
-- many seeds have reached that episode.
CREATE VIEW curves AS
SELECT sj.sweep_id AS sweep_id, j.benchmark AS benchmark, j.arch AS arch, m.episode AS episode,
       AVG(m.running_mean) AS mean,
       sqrt(max(AVG(m.running_mean * m.running_mean) - AVG(m.running_mean) * AVG(m.running_mean), 0)) AS std,
       COUNT(*) AS seeds
FROM running_mean m
JOIN jobs j ON j.id = m.job_id
JOIN sweep_jobs sj ON sj.job_id = j.id
GROUP BY sj.sweep_id, j.benchmark, j.arch, m.episode;
