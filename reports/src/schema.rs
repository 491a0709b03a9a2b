//! The results store's SQL schema as an ordered list of migrations: index `i` takes the
//! database from version `i` to `i + 1`. Only DDL lives here. Never edit a released step:
//! add a new one at the end (a released database may be at any earlier version).

/// Migration steps; `MIGRATIONS.len()` is the schema version this build writes.
pub const MIGRATIONS: &[&str] = &[
    // v1: runs, their seconds, per-second object rates, histograms.
    r#"
    CREATE TABLE runs (
        id              TEXT PRIMARY KEY,
        started_ms      INTEGER NOT NULL,
        ended_ms        INTEGER,
        status          TEXT NOT NULL CHECK (status IN ('running', 'complete', 'incomplete')),
        profile         TEXT NOT NULL,
        profile_text    TEXT NOT NULL DEFAULT '',
        workload        TEXT,
        target          TEXT NOT NULL,
        strategy        TEXT,
        runtime_options TEXT NOT NULL DEFAULT '{}',
        dobench_version TEXT NOT NULL,
        host            TEXT NOT NULL DEFAULT '{}',
        pid             INTEGER,
        pid_start       TEXT,
        planned_s       REAL,
        ceiling_rps     REAL,
        thresholds      TEXT NOT NULL DEFAULT '[]',
        passed          INTEGER,
        offered_rps     REAL,
        achieved_rps    REAL,
        p99_ms          REAL,
        last_snapshot   TEXT,
        summary         TEXT
    );
    CREATE INDEX runs_started ON runs (started_ms);
    CREATE TABLE seconds (
        run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        second        INTEGER NOT NULL,
        span_s        REAL NOT NULL,
        offered_rps   REAL NOT NULL,
        achieved_rps  REAL NOT NULL,
        requests      INTEGER NOT NULL,
        missed        INTEGER NOT NULL,
        errors        INTEGER NOT NULL,
        overloaded    INTEGER NOT NULL,
        timeout       INTEGER NOT NULL,
        connect       INTEGER NOT NULL,
        other         INTEGER NOT NULL,
        status_errors TEXT NOT NULL DEFAULT '{}',
        p50_ms REAL NOT NULL, p90_ms REAL NOT NULL, p99_ms REAL NOT NULL,
        p999_ms REAL NOT NULL, max_ms REAL NOT NULL,
        latency_v2    BLOB,
        PRIMARY KEY (run_id, second)
    );
    CREATE TABLE object_seconds (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        second    INTEGER NOT NULL,
        object    TEXT NOT NULL,
        rps       REAL NOT NULL,
        requests  INTEGER NOT NULL,
        remainder INTEGER NOT NULL DEFAULT 0,
        objects   INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (run_id, second, object)
    );
    CREATE TABLE histograms (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        op     TEXT NOT NULL,
        v2     BLOB NOT NULL,
        PRIMARY KEY (run_id, op)
    );
    "#,
    // v2: liveness heartbeat, compare groups, server-side stats snapshots.
    r#"
    ALTER TABLE runs ADD COLUMN heartbeat_ms INTEGER;
    ALTER TABLE runs ADD COLUMN compare_group TEXT REFERENCES compare_groups (id);
    CREATE TABLE compare_groups (
        id         TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        profile    TEXT NOT NULL,
        best       TEXT
    );
    CREATE INDEX runs_group ON runs (compare_group);
    CREATE TABLE server_stats (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        elapsed_s REAL NOT NULL,
        stats     TEXT NOT NULL
    );
    CREATE INDEX server_stats_run ON server_stats (run_id, elapsed_s);
    "#,
    // v3: run labels, group kinds (a `compare` of strategies or a `repeat` of one run), and a
    // compare group's answer in words (a shard sweep's one line).
    r#"
    ALTER TABLE runs ADD COLUMN label TEXT;
    CREATE INDEX runs_label ON runs (label);
    ALTER TABLE compare_groups ADD COLUMN kind TEXT NOT NULL DEFAULT 'compare';
    ALTER TABLE compare_groups ADD COLUMN answer TEXT;
    "#,
];
