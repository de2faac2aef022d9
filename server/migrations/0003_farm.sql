-- The farm: what the scheduler needs to know about jobs and printers, spools on printers, time windows,
-- maintenance tasks, notifications and farm-wide settings.

-- A job is one print of one plate on one printer; N copies are N jobs sharing a batch.
ALTER TABLE jobs ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN batch_id INTEGER;                    -- the first job of its batch
ALTER TABLE jobs ADD COLUMN copy_index INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN nozzle_mm REAL;                      -- a nozzle the job insists on
ALTER TABLE jobs ADD COLUMN size_x_mm REAL NOT NULL DEFAULT 0;   -- the plate's bounding box
ALTER TABLE jobs ADD COLUMN size_y_mm REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN size_z_mm REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- prints started
ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1);
ALTER TABLE jobs ADD COLUMN avoid_printers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(avoid_printers));
ALTER TABLE jobs ADD COLUMN sliced_for TEXT;                     -- the profile key the G-code was made with
ALTER TABLE jobs ADD COLUMN remote_file TEXT;                    -- the file name the printer knows this attempt by
ALTER TABLE jobs ADD COLUMN spool_id INTEGER REFERENCES spools(id) ON DELETE SET NULL;
ALTER TABLE jobs ADD COLUMN progress REAL;
ALTER TABLE jobs ADD COLUMN started_at TEXT;
ALTER TABLE jobs ADD COLUMN finished_at TEXT;
ALTER TABLE jobs ADD COLUMN print_s REAL NOT NULL DEFAULT 0;     -- seconds actually printed, all attempts
ALTER TABLE jobs ADD COLUMN filament_used_g REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cost REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN error TEXT;                          -- the printer's last error, verbatim
ALTER TABLE jobs ADD COLUMN queue_pos REAL;                      -- a manager's manual order within a priority
CREATE INDEX jobs_batch ON jobs(batch_id);

-- Each print attempt on a printer: the basis of per-printer hours, filament and success rates.
CREATE TABLE print_runs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    printer_id  INTEGER REFERENCES printers(id) ON DELETE SET NULL,
    owner_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    spool_id    INTEGER REFERENCES spools(id) ON DELETE SET NULL,
    started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at    TEXT,
    outcome     TEXT CHECK (outcome IS NULL OR outcome IN ('done', 'failed', 'cancelled')),
    seconds     REAL NOT NULL DEFAULT 0,
    filament_g  REAL NOT NULL DEFAULT 0,
    cost        REAL NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX print_runs_printer ON print_runs(printer_id, started_at);
CREATE INDEX print_runs_owner ON print_runs(owner_id, started_at);
CREATE INDEX print_runs_job ON print_runs(job_id);

-- Users belong to groups (a class); a teacher sees the statistics of the groups they teach.
CREATE TABLE user_groups (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE user_group_members (
    group_id INTEGER NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);

-- Quiet hours, "long prints overnight" and maintenance windows, each a cron start and a length.
CREATE TABLE farm_windows (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('quiet', 'overnight', 'maintenance')),
    label        TEXT NOT NULL DEFAULT '',
    cron         TEXT NOT NULL,               -- seconds minutes hours day-of-month month day-of-week (UTC)
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    printer_id   INTEGER REFERENCES printers(id) ON DELETE CASCADE  -- maintenance only; NULL = whole farm
);

-- Recurring care per printer: "lubricate rails every 200 h".
CREATE TABLE maintenance_tasks (
    id              INTEGER PRIMARY KEY,
    printer_id      INTEGER NOT NULL REFERENCES printers(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    every_hours     REAL NOT NULL CHECK (every_hours > 0),
    done_at_hours   REAL NOT NULL DEFAULT 0,  -- the printer's print hours when last done
    done_at         TEXT
);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kind       TEXT NOT NULL,                 -- job_done, job_failed, needs_attention, low_filament, maintenance_due
    severity   TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    message    TEXT NOT NULL,
    job_id     INTEGER REFERENCES jobs(id) ON DELETE CASCADE,
    printer_id INTEGER REFERENCES printers(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,  -- who it is for; NULL = the farm's managers
    read_at    TEXT
);
CREATE INDEX notifications_user ON notifications(user_id, id DESC);

-- Farm-wide settings as JSON values (max heating printers, webhook, retry limit, approval roles).
CREATE TABLE farm_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL CHECK (json_valid(value))
);
