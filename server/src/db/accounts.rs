//! Sign-in state: sessions (only a hash of the cookie is stored), API keys (only a hash, a short prefix
//! to tell them apart, a role no higher than their owner's), PINs and badges.

use sqlx::{FromRow, SqlitePool};

use super::users::UserRow;
use super::{parse_column, DbError, Role, UserRecord};

/// A teacher's classes: the groups they are in, and everyone in them (the teacher too).
#[derive(Debug, Clone, Default)]
pub struct Classes {
    pub groups: Vec<i64>,
    pub members: Vec<i64>,
}

/// A live session and the user behind it, as read for each request.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: i64,
    pub user: UserRecord,
    pub csrf_token: String,
    pub kiosk: bool,
    /// Seconds without a request after which the session ends; `None` uses the server's default.
    pub idle_s: Option<i64>,
    /// Seconds since the last request seen on this session.
    pub idle_for_s: i64,
}

/// What it takes to start a session; the caller makes the token and hashes it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub lifetime_s: i64,
    pub kiosk: bool,
    pub idle_s: Option<i64>,
}

/// An API key as listed (never the key itself: it is shown once, when made).
#[derive(Debug, Clone, PartialEq, serde::Serialize, FromRow)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A key that matched, with the user who owns it.
#[derive(Debug, Clone)]
pub struct ApiKeyMatch {
    pub key_id: i64,
    /// The key's own role: at most its owner's current role.
    pub role: Role,
    pub user: UserRecord,
    /// Whether `last_used_at` is older than a minute (so it is worth writing again).
    pub stale_use: bool,
}

#[derive(FromRow)]
struct SessionRow {
    session_id: i64,
    csrf_token: String,
    kiosk: bool,
    idle_s: Option<i64>,
    idle_for_s: i64,
    #[sqlx(flatten)]
    user: UserRow,
}

#[derive(FromRow)]
struct KeyRow {
    key_id: i64,
    key_role: String,
    stale_use: bool,
    #[sqlx(flatten)]
    user: UserRow,
}

const USER_COLS: &str = "u.id, u.username, u.display_name, u.role, u.password_hash, u.disabled";

/// Reads and writes sessions, API keys, PINs and badges.
pub struct AccountRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> AccountRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn create_session(&self, s: &NewSession<'_>) -> Result<i64, DbError> {
        Ok(sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, ip, user_agent, expires_at, kiosk, idle_s)
             VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds'), ?, ?)",
        )
        .bind(s.token_hash)
        .bind(s.user_id)
        .bind(s.csrf_token)
        .bind(s.ip)
        .bind(s.user_agent)
        .bind(s.lifetime_s)
        .bind(s.kiosk)
        .bind(s.idle_s)
        .execute(self.pool)
        .await?
        .last_insert_rowid())
    }

    /// The unexpired session with this token hash, whoever it belongs to (disabled users included, so
    /// the caller can refuse them with a reason).
    pub async fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRecord>, DbError> {
        let sql = format!(
            "SELECT s.id AS session_id, s.csrf_token, s.kiosk, s.idle_s,
                    CAST((julianday('now') - julianday(s.last_seen_at)) * 86400 AS INTEGER) AS idle_for_s, {USER_COLS}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        );
        let row: Option<SessionRow> = sqlx::query_as(&sql).bind(token_hash).fetch_optional(self.pool).await?;
        row.map(|r| {
            Ok(SessionRecord {
                id: r.session_id,
                csrf_token: r.csrf_token,
                kiosk: r.kiosk,
                idle_s: r.idle_s,
                idle_for_s: r.idle_for_s,
                user: r.user.into_record()?,
            })
        })
        .transpose()
    }

    /// Marks the session as used now.
    pub async fn touch_session(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE sessions SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    pub async fn end_session(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?").bind(id).execute(self.pool).await?;
        Ok(())
    }

    /// Ends every session of a user (password changed, account disabled or removed).
    pub async fn end_sessions_of(&self, user_id: i64) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(self.pool)
            .await?
            .rows_affected())
    }

    /// Ends every session of a user but `keep` (their own password change, from the session in use).
    pub async fn end_sessions_except(&self, user_id: i64, keep: Option<i64>) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?")
            .bind(user_id)
            .bind(keep)
            .execute(self.pool)
            .await?
            .rows_affected())
    }

    /// Forgets sessions that expired.
    pub async fn sweep_sessions(&self) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
            .execute(self.pool)
            .await?
            .rows_affected())
    }

    pub async fn create_key(
        &self,
        user_id: i64,
        name: &str,
        prefix: &str,
        key_hash: &[u8],
        role: Role,
    ) -> Result<i64, DbError> {
        Ok(sqlx::query("INSERT INTO api_keys (user_id, name, prefix, key_hash, role) VALUES (?, ?, ?, ?, ?)")
            .bind(user_id)
            .bind(name)
            .bind(prefix)
            .bind(key_hash)
            .bind(role.as_str())
            .execute(self.pool)
            .await?
            .last_insert_rowid())
    }

    /// The unrevoked key with this hash and its owner.
    pub async fn key(&self, key_hash: &[u8]) -> Result<Option<ApiKeyMatch>, DbError> {
        let sql = format!(
            "SELECT k.id AS key_id, k.role AS key_role,
                    (k.last_used_at IS NULL OR k.last_used_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds')) AS stale_use,
                    {USER_COLS}
             FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.key_hash = ? AND k.revoked_at IS NULL"
        );
        let row: Option<KeyRow> = sqlx::query_as(&sql).bind(key_hash).fetch_optional(self.pool).await?;
        row.map(|r| {
            Ok(ApiKeyMatch {
                key_id: r.key_id,
                role: parse_column("api_keys.role", r.key_role)?,
                stale_use: r.stale_use,
                user: r.user.into_record()?,
            })
        })
        .transpose()
    }

    pub async fn mark_key_used(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE api_keys SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Keys of one user, or of everyone when `user_id` is `None`; newest first.
    pub async fn keys(&self, user_id: Option<i64>) -> Result<Vec<ApiKeyInfo>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, name, prefix, role, created_at, last_used_at, revoked_at FROM api_keys
             WHERE ?1 IS NULL OR user_id = ?1 ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(self.pool)
        .await?)
    }

    pub async fn key_info(&self, id: i64) -> Result<ApiKeyInfo, DbError> {
        sqlx::query_as(
            "SELECT id, user_id, name, prefix, role, created_at, last_used_at, revoked_at FROM api_keys WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool)
        .await?
        .ok_or(DbError::NotFound { kind: "API key", id })
    }

    /// Revokes a key; revoking twice is harmless.
    pub async fn revoke_key(&self, id: i64) -> Result<(), DbError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = ?",
        )
        .bind(id)
        .execute(self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound { kind: "API key", id });
        }
        Ok(())
    }

    /// Revokes every live key of `user_id` but `keep`; how many.
    pub async fn revoke_keys_except(&self, user_id: i64, keep: Option<i64>) -> Result<u64, DbError> {
        Ok(sqlx::query(
            "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE user_id = ? AND id IS NOT ? AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(keep)
        .execute(self.pool)
        .await?
        .rows_affected())
    }

    pub async fn set_password_hash(&self, user_id: i64, hash: &str) -> Result<(), DbError> {
        self.set_user_column(user_id, "password_hash", Some(hash)).await
    }

    pub async fn set_pin_hash(&self, user_id: i64, hash: Option<&str>) -> Result<(), DbError> {
        self.set_user_column(user_id, "pin_hash", hash).await
    }

    async fn set_user_column(&self, user_id: i64, column: &'static str, value: Option<&str>) -> Result<(), DbError> {
        let sql = format!("UPDATE users SET {column} = ? WHERE id = ?");
        let done = sqlx::query(&sql).bind(value).bind(user_id).execute(self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound { kind: "user", id: user_id });
        }
        Ok(())
    }

    pub async fn set_badge_hash(&self, user_id: i64, hash: Option<&[u8]>) -> Result<(), DbError> {
        let done = sqlx::query("UPDATE users SET badge_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(user_id)
            .execute(self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound { kind: "user", id: user_id });
        }
        Ok(())
    }

    /// A user's PIN hash, looked up by name (ignoring case).
    pub async fn pin_hash(&self, username: &str) -> Result<Option<(UserRecord, Option<String>)>, DbError> {
        #[derive(FromRow)]
        struct Row {
            pin_hash: Option<String>,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let sql = format!("SELECT u.pin_hash, {USER_COLS} FROM users u WHERE u.username = ?");
        let row: Option<Row> = sqlx::query_as(&sql).bind(username).fetch_optional(self.pool).await?;
        row.map(|r| Ok((r.user.into_record()?, r.pin_hash))).transpose()
    }

    pub async fn by_badge(&self, badge_hash: &[u8]) -> Result<Option<UserRecord>, DbError> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.badge_hash = ?");
        let row: Option<UserRow> = sqlx::query_as(&sql).bind(badge_hash).fetch_optional(self.pool).await?;
        row.map(UserRow::into_record).transpose()
    }

    pub async fn by_id(&self, user_id: i64) -> Result<UserRecord, DbError> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?");
        let row: Option<UserRow> = sqlx::query_as(&sql).bind(user_id).fetch_optional(self.pool).await?;
        row.ok_or(DbError::NotFound { kind: "user", id: user_id })?.into_record()
    }

    /// Everyone, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, DbError> {
        let sql = format!("SELECT {USER_COLS} FROM users u ORDER BY u.username");
        let rows: Vec<UserRow> = sqlx::query_as(&sql).fetch_all(self.pool).await?;
        rows.into_iter().map(UserRow::into_record).collect()
    }

    /// Changes a user's name, role or whether they may sign in; `None` leaves a field as it is.
    pub async fn change_user(
        &self,
        user_id: i64,
        display_name: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<(), DbError> {
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE(?, display_name), role = COALESCE(?, role),
                              disabled = COALESCE(?, disabled) WHERE id = ?",
        )
        .bind(display_name)
        .bind(role.map(Role::as_str))
        .bind(disabled)
        .bind(user_id)
        .execute(self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound { kind: "user", id: user_id });
        }
        // A key never outranks its owner: lowering a role lowers their keys too.
        if let Some(role) = role {
            for higher in [Role::Admin, Role::Manager, Role::Teacher, Role::Maker].into_iter().filter(|r| *r > role) {
                sqlx::query("UPDATE api_keys SET role = ? WHERE user_id = ? AND role = ?")
                    .bind(role.as_str())
                    .bind(user_id)
                    .bind(higher.as_str())
                    .execute(self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn delete_user(&self, user_id: i64) -> Result<(), DbError> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(user_id).execute(self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound { kind: "user", id: user_id });
        }
        Ok(())
    }

    /// How many admins can still sign in (the last one may not be removed or demoted).
    pub async fn active_admins(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
            .fetch_one(self.pool)
            .await?)
    }

    /// The groups (classes) a user belongs to.
    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<i64>, DbError> {
        Ok(sqlx::query_scalar("SELECT group_id FROM user_group_members WHERE user_id = ?")
            .bind(user_id)
            .fetch_all(self.pool)
            .await?)
    }

    /// Everyone `teacher` teaches ([`AccountRepo::teaches`] for all at once): the groups they are in and
    /// those groups' members, or `None` when they are in no group (then they look after everyone).
    pub async fn classes_of(&self, teacher: i64) -> Result<Option<Classes>, DbError> {
        let groups = self.groups_of(teacher).await?;
        if groups.is_empty() {
            return Ok(None);
        }
        let members: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT m.user_id FROM user_group_members t
             JOIN user_group_members m ON m.group_id = t.group_id WHERE t.user_id = ?",
        )
        .bind(teacher)
        .fetch_all(self.pool)
        .await?;
        Ok(Some(Classes { groups, members }))
    }

    /// Whether `teacher` teaches `user`: they share a group (class), or the teacher is in no group at all
    /// (a small makerspace without classes, where every teacher looks after everyone).
    pub async fn teaches(&self, teacher: i64, user: i64) -> Result<bool, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM user_group_members t JOIN user_group_members m ON m.group_id = t.group_id
                            WHERE t.user_id = ?1 AND m.user_id = ?2)
                 OR NOT EXISTS (SELECT 1 FROM user_group_members WHERE user_id = ?1)",
        )
        .bind(teacher)
        .bind(user)
        .fetch_one(self.pool)
        .await?)
    }
}
