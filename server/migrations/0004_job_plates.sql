-- A job may print a plate of several models: the first is model_version_id, the rest are listed here.
ALTER TABLE jobs ADD COLUMN plate TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(plate));
