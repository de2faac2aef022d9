-- Generation as a service (issue #7): what was asked, how it was planned, how far it got and what it made.
-- `generation_requests` came with the first schema; these columns carry the rest.

ALTER TABLE generation_requests ADD COLUMN normalised_prompt TEXT NOT NULL DEFAULT '';
ALTER TABLE generation_requests ADD COLUMN tier TEXT NOT NULL DEFAULT 'procedural' CHECK (tier IN ('procedural', 'shap-e'));
ALTER TABLE generation_requests ADD COLUMN template TEXT;          -- procedural: the template key
ALTER TABLE generation_requests ADD COLUMN params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params));
ALTER TABLE generation_requests ADD COLUMN size_mm REAL;
ALTER TABLE generation_requests ADD COLUMN batch_id INTEGER;       -- "4 variations": the first request's id
ALTER TABLE generation_requests ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generation_requests ADD COLUMN total_steps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generation_requests ADD COLUMN cache_key TEXT;
ALTER TABLE generation_requests ADD COLUMN cached INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1));
ALTER TABLE generation_requests ADD COLUMN model_version_id INTEGER REFERENCES model_versions(id) ON DELETE SET NULL;
ALTER TABLE generation_requests ADD COLUMN notes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(notes)); -- what the output path did

CREATE INDEX generation_requests_cache ON generation_requests(cache_key) WHERE status = 'done';
CREATE INDEX generation_requests_user ON generation_requests(user_id, created_at);

-- Which model versions came from which tier: AI output may need a teacher's approval before printing.
ALTER TABLE model_versions ADD COLUMN generated_by TEXT CHECK (generated_by IS NULL OR generated_by IN ('procedural', 'shap-e'));
