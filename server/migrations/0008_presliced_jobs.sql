-- G-code sent by a slicer (the OctoPrint-compatible upload) is a job without a model: it was sliced
-- for one kind of printer already and is printed as it is, never re-sliced. SQLite cannot drop a NOT
-- NULL constraint in place, so `jobs` is rebuilt. Migrations run inside a transaction, where foreign
-- keys cannot be switched off, and dropping the old table deletes its rows first, cascading to every
-- job's history, print runs and notifications: those are kept aside and put back once the new table
-- has the old one's name.
CREATE TEMP TABLE keep_job_transitions AS SELECT * FROM job_transitions;
CREATE TEMP TABLE keep_print_runs AS SELECT * FROM print_runs;
CREATE TEMP TABLE keep_notifications AS SELECT * FROM notifications WHERE job_id IS NOT NULL;
CREATE TABLE jobs_new (
    id               INTEGER PRIMARY KEY,
    model_version_id INTEGER REFERENCES model_versions(id) ON DELETE RESTRICT,  -- NULL for uploaded G-code
    owner_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state            TEXT NOT NULL CHECK (state IN ('submitted', 'awaiting_approval', 'queued', 'slicing', 'ready',
                                                    'assigned', 'printing', 'paused', 'done', 'failed', 'cancelled')),
    material_kind    TEXT,
    colour           TEXT,
    quality          TEXT NOT NULL DEFAULT 'standard',
    copies           INTEGER NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 1000),
    printer_group    TEXT,
    priority         INTEGER NOT NULL DEFAULT 0,
    deadline         TEXT,
    printer_id       INTEGER REFERENCES printers(id) ON DELETE SET NULL,
    gcode_path       TEXT,
    estimate_s       INTEGER,
    filament_g       REAL,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    name TEXT NOT NULL DEFAULT '',
    batch_id INTEGER,
    copy_index INTEGER NOT NULL DEFAULT 1,
    nozzle_mm REAL,
    size_x_mm REAL NOT NULL DEFAULT 0,
    size_y_mm REAL NOT NULL DEFAULT 0,
    size_z_mm REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    avoid_printers TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(avoid_printers)),
    sliced_for TEXT,
    remote_file TEXT,
    spool_id INTEGER REFERENCES spools(id) ON DELETE SET NULL,
    progress REAL,
    started_at TEXT,
    finished_at TEXT,
    print_s REAL NOT NULL DEFAULT 0,
    filament_used_g REAL NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    error TEXT,
    queue_pos REAL,
    plate TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(plate)),
    -- 1: the G-code came sliced (gcode_path); the farm sends it as it is and never slices it.
    presliced INTEGER NOT NULL DEFAULT 0 CHECK (presliced IN (0, 1)),
    CHECK (model_version_id IS NOT NULL OR (presliced = 1 AND gcode_path IS NOT NULL))
);
INSERT INTO jobs_new (id, model_version_id, owner_id, state, material_kind, colour, quality, copies, printer_group,
                      priority, deadline, printer_id, gcode_path, estimate_s, filament_g, created_at, updated_at, name,
                      batch_id, copy_index, nozzle_mm, size_x_mm, size_y_mm, size_z_mm, attempts, max_attempts,
                      avoid_printers, sliced_for, remote_file, spool_id, progress, started_at, finished_at, print_s,
                      filament_used_g, cost, error, queue_pos, plate)
SELECT id, model_version_id, owner_id, state, material_kind, colour, quality, copies, printer_group,
       priority, deadline, printer_id, gcode_path, estimate_s, filament_g, created_at, updated_at, name,
       batch_id, copy_index, nozzle_mm, size_x_mm, size_y_mm, size_z_mm, attempts, max_attempts,
       avoid_printers, sliced_for, remote_file, spool_id, progress, started_at, finished_at, print_s,
       filament_used_g, cost, error, queue_pos, plate
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_queue ON jobs(state, priority DESC, created_at, id);
CREATE INDEX jobs_owner ON jobs(owner_id, created_at DESC);
CREATE INDEX jobs_printer ON jobs(printer_id, state);
CREATE INDEX jobs_batch ON jobs(batch_id);
INSERT INTO job_transitions SELECT * FROM keep_job_transitions WHERE id NOT IN (SELECT id FROM job_transitions);
INSERT INTO print_runs SELECT * FROM keep_print_runs WHERE id NOT IN (SELECT id FROM print_runs);
INSERT INTO notifications SELECT * FROM keep_notifications WHERE id NOT IN (SELECT id FROM notifications);
DROP TABLE keep_job_transitions;
DROP TABLE keep_print_runs;
DROP TABLE keep_notifications;
