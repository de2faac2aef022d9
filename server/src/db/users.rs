use std::fmt;
use std::str::FromStr;

use sqlx::{FromRow, SqlitePool};

use super::{parse_column, DbError};

/// What a user may do; enforced on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Kiosk,
    Maker,
    Teacher,
    Manager,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Maker => "maker",
            Role::Teacher => "teacher",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Role::Kiosk, Role::Maker, Role::Teacher, Role::Manager, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

/// A user account. The password hash never leaves the server.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

/// A `users` row as stored (the role as text); the accounts queries read the same columns.
#[derive(FromRow)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    password_hash: Option<String>,
    disabled: bool,
}

impl UserRow {
    pub(super) fn into_record(self) -> Result<UserRecord, DbError> {
        Ok(UserRecord {
            id: self.id,
            username: self.username,
            display_name: self.display_name,
            role: parse_column("users.role", self.role)?,
            password_hash: self.password_hash,
            disabled: self.disabled,
        })
    }
}

/// What it takes to create a user; the caller hashes the password.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// Reads and writes `users`.
pub struct UserRepo<'a> {
    pool: &'a SqlitePool,
}

impl<'a> UserRepo<'a> {
    pub(super) fn new(pool: &'a SqlitePool) -> Self {
        Self { pool }
    }

    pub async fn insert(&self, u: &NewUser) -> Result<i64, DbError> {
        Ok(sqlx::query("INSERT INTO users (username, display_name, role, password_hash) VALUES (?, ?, ?, ?)")
            .bind(&u.username)
            .bind(&u.display_name)
            .bind(u.role.as_str())
            .bind(&u.password_hash)
            .execute(self.pool)
            .await?
            .last_insert_rowid())
    }

    /// Finds a user by name, ignoring case.
    pub async fn by_username(&self, username: &str) -> Result<Option<UserRecord>, DbError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT id, username, display_name, role, password_hash, disabled FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(self.pool)
        .await?;
        row.map(UserRow::into_record).transpose()
    }

    pub async fn count(&self) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(self.pool).await?)
    }
}
