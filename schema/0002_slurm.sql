-- 0002_slurm.sql - the Slurm executor: the allocations nmnd submitted (their
-- Slurm job ids, so a restarted nmnd finds them again) and which allocation
-- ran each attempt.
CREATE TABLE allocations (
    id           INTEGER PRIMARY KEY,
    slurm_id     TEXT NOT NULL UNIQUE,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'ended')),
    node         TEXT,
    submitted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at     TEXT
);
CREATE INDEX allocations_live ON allocations (state);
ALTER TABLE attempts ADD COLUMN allocation_id INTEGER REFERENCES allocations (id);
