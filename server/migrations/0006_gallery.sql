-- The class gallery (issue #8): models a teacher picked for everyone to see and print again.
CREATE TABLE gallery (
    model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    added_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
