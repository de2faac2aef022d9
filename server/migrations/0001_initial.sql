-- Printfarm's first schema. Times are UTC ISO-8601 text; JSON columns hold small structured settings.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'teacher', 'maker', 'kiosk')),
    password_hash TEXT,            -- argon2id PHC string; NULL for accounts that sign in by PIN only
    pin_hash      TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,  -- only a hash of the cookie value is stored
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,         -- the first characters, shown so people can tell keys apart
    key_hash     BLOB NOT NULL UNIQUE,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'teacher', 'maker', 'kiosk')),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE materials (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('PLA', 'PETG', 'ABS', 'ASA', 'TPU', 'PA', 'PC', 'OTHER')),
    diameter_mm    REAL NOT NULL DEFAULT 1.75 CHECK (diameter_mm > 0),
    density_g_cm3  REAL NOT NULL DEFAULT 1.24 CHECK (density_g_cm3 > 0),
    cost_per_kg    REAL,
    settings       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings))
);

CREATE TABLE spools (
    id           INTEGER PRIMARY KEY,
    material_id  INTEGER NOT NULL REFERENCES materials(id) ON DELETE RESTRICT,
    colour_name  TEXT NOT NULL,
    colour_hex   TEXT CHECK (colour_hex IS NULL OR colour_hex GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'),
    vendor       TEXT,
    initial_g    REAL NOT NULL CHECK (initial_g >= 0),
    remaining_g  REAL NOT NULL CHECK (remaining_g >= 0),
    archived     INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE printers (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    driver          TEXT NOT NULL CHECK (driver IN ('simulated', 'marlin', 'octoprint', 'moonraker')),
    connection      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(connection)), -- port/baud or URL; secrets live in printer_secrets
    build_x_mm      REAL NOT NULL CHECK (build_x_mm > 0),
    build_y_mm      REAL NOT NULL CHECK (build_y_mm > 0),
    build_z_mm      REAL NOT NULL CHECK (build_z_mm > 0),
    nozzle_mm       REAL NOT NULL DEFAULT 0.4 CHECK (nozzle_mm > 0),
    firmware        TEXT NOT NULL DEFAULT 'marlin2' CHECK (firmware IN ('marlin2', 'klipper', 'reprapfirmware')),
    tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    maintenance     INTEGER NOT NULL DEFAULT 0 CHECK (maintenance IN (0, 1)),
    require_bed_clear INTEGER NOT NULL DEFAULT 1 CHECK (require_bed_clear IN (0, 1)),
    bed_clear       INTEGER NOT NULL DEFAULT 1 CHECK (bed_clear IN (0, 1)),
    slicer_profile  TEXT,
    loaded_spool_id INTEGER REFERENCES spools(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Printer credentials (OctoPrint keys, Moonraker tokens), encrypted with the box's key.
CREATE TABLE printer_secrets (
    printer_id INTEGER PRIMARY KEY REFERENCES printers(id) ON DELETE CASCADE,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL
);

CREATE TABLE models (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    owner_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    source     TEXT NOT NULL CHECK (source IN ('upload', 'generated', 'edit')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at TEXT
);

-- Edits make new versions; a version is never changed, so the original is never lost.
CREATE TABLE model_versions (
    id            INTEGER PRIMARY KEY,
    model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL CHECK (version >= 1),
    parent_id     INTEGER REFERENCES model_versions(id) ON DELETE SET NULL,
    file_path     TEXT NOT NULL,        -- relative to the data directory
    format        TEXT NOT NULL CHECK (format IN ('stl', '3mf', 'glb', 'obj')),
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    triangles     INTEGER,
    size_x_mm     REAL,
    size_y_mm     REAL,
    size_z_mm     REAL,
    volume_mm3    REAL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (model_id, version)
);

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE RESTRICT,
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
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Every state change, with who, when and why.
CREATE TABLE job_transitions (
    id         INTEGER PRIMARY KEY,
    job_id     INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    reason     TEXT,
    at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX job_transitions_job ON job_transitions(job_id, id);

CREATE TABLE generation_requests (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    prompt      TEXT NOT NULL,
    quality     TEXT NOT NULL CHECK (quality IN ('low', 'medium', 'high')),
    seed        INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    progress    REAL NOT NULL DEFAULT 0,
    model_id    INTEGER REFERENCES models(id) ON DELETE SET NULL,
    error       TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at  TEXT,
    finished_at TEXT
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    target_kind TEXT,
    target_id   INTEGER,
    detail      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    ip          TEXT
);
CREATE INDEX audit_events_at ON audit_events(at);
