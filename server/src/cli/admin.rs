//! `printfarm admin …`: accounts from the command line. Works while the server runs (SQLite in WAL mode
//! lets both write), so the first admin can be made on a headless box over SSH.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::auth::Auth;
use crate::db::{Db, Role};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account (an admin unless --role says otherwise). The password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (one line), so it never appears in the process list.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// List accounts.
    Users,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key for a user and print it once (only a hash is kept).
    Create {
        #[arg(long)]
        username: String,
        /// A name to tell keys apart, e.g. "PrusaSlicer in room 4".
        #[arg(long, default_value = "command line")]
        name: String,
        /// A lower role than the user's, for a key that may do less.
        #[arg(long)]
        role: Option<String>,
    },
    /// List a user's keys (never the keys themselves).
    List {
        #[arg(long)]
        username: String,
    },
    /// Revoke a key by its id.
    Revoke { id: i64 },
}

pub fn run(command: AdminCommand, data_dir: PathBuf, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    runtime.block_on(async move {
        let db = Db::open(&data_dir).await?;
        let auth = Auth::new(db.clone()).await?;
        let result = dispatch(command, &db, &auth).await;
        db.close().await;
        result
    })
}

async fn dispatch(command: AdminCommand, db: &Db, auth: &Auth) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { username, password_stdin: _, role, display_name } => {
            let role: Role =
                role.parse().map_err(|_| anyhow::anyhow!("role must be admin, manager, teacher, maker or kiosk"))?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = password.lines().next().unwrap_or("").to_string();
            let user = auth.create_user(&username, &display_name, role, Some(&password), None).await?;
            let entry = crate::db::AuditEntry {
                actor_id: None,
                action: "user created (command line)",
                target_kind: Some("user"),
                target_id: Some(user.id),
                detail: serde_json::json!({ "role": role.as_str() }),
                ip: None,
            };
            db.audit().record(&entry).await?;
            eprintln!("Made {} {:?} (id {}).", role, user.username, user.id);
        }
        AdminCommand::ApiKey(ApiKeyCommand::Create { username, name, role }) => {
            let Some(user) = db.users().by_username(&username).await? else { bail!("there is no user {username:?}") };
            let role = role
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|_| anyhow::anyhow!("role must be admin, manager, teacher, maker or kiosk"))
                })
                .transpose()?;
            let (id, key) = auth.create_key(&user, &name, role).await?;
            eprintln!("API key {id} for {username}; it is shown only now:");
            println!("{key}");
        }
        AdminCommand::ApiKey(ApiKeyCommand::List { username }) => {
            let Some(user) = db.users().by_username(&username).await? else { bail!("there is no user {username:?}") };
            for k in db.accounts().keys(Some(user.id)).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{:>4}  {:<12} {:<8} {:<8} {}  last used {}",
                    k.id,
                    k.prefix,
                    k.role,
                    state,
                    k.name,
                    k.last_used_at.as_deref().unwrap_or("never")
                );
            }
        }
        AdminCommand::ApiKey(ApiKeyCommand::Revoke { id }) => {
            db.accounts().revoke_key(id).await?;
            eprintln!("Key {id} revoked.");
        }
        AdminCommand::Users => {
            for u in db.accounts().users().await? {
                println!(
                    "{:>4}  {:<20} {:<8} {}{}",
                    u.id,
                    u.username,
                    u.role,
                    u.display_name,
                    if u.disabled { "  (disabled)" } else { "" }
                );
            }
        }
    }
    Ok(())
}
