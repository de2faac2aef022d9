-- Accounts in use: kiosk sessions sign out after a short idle time; badges sign in with one scan.

-- A session made by a quick sign-in (name + PIN or badge) at a kiosk ends after `idle_s` seconds
-- without a request; other sessions use the server's default idle time.
ALTER TABLE sessions ADD COLUMN kiosk INTEGER NOT NULL DEFAULT 0 CHECK (kiosk IN (0, 1));
ALTER TABLE sessions ADD COLUMN idle_s INTEGER CHECK (idle_s IS NULL OR idle_s > 0);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- A badge code is looked up without a name, so it is stored as a SHA-256 (badges are long random codes).
ALTER TABLE users ADD COLUMN badge_hash BLOB;
CREATE UNIQUE INDEX users_badge ON users(badge_hash) WHERE badge_hash IS NOT NULL;

CREATE INDEX api_keys_user ON api_keys(user_id);
