//! Printer credentials at rest: OctoPrint API keys and Moonraker tokens are sealed with
//! XChaCha20-Poly1305 under a key kept in `<data-dir>/secret.key` (32 random bytes, mode 0600) and
//! stored in `printer_secrets`. The `connection` column keeps only what may be shown (URL, port, baud),
//! so a copied database file, a backup or a browser never sees a key. The farm merges the credentials
//! back into the connection setting only where it opens a driver ([`connection_for_driver`]).
//!
//! The printer's id and the address the key was typed in for ([`credential_address`]) are the AEAD's
//! associated data: a sealed key copied onto another printer's row does not open, and neither does a
//! printer's own key once its address has changed. So a key is only ever sent where it was entered; a
//! new address needs the key typed again ([`change_for`] drops it when the address changes without one).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde_json::{Map, Value};

use crate::db::{Db, DbError, PrinterChange, PrinterRecord, SealedSecret, SecretChange};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secret.key";
/// Bytes in the key (XChaCha20-Poly1305 takes 256-bit keys).
pub const KEY_LEN: usize = 32;
/// Bytes in a nonce: 192 bits, so random nonces never repeat in practice.
pub const NONCE_LEN: usize = 24;
/// Connection fields that are credentials: sealed in `printer_secrets`, never kept in `connection`.
pub const SECRET_FIELDS: &[&str] = &["api_key"];
/// Longer than any real OctoPrint or Moonraker key; a bound on what is sealed.
const MAX_SECRET_LEN: usize = 1024;

/// Why credentials could not be kept or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error(
        "the key file {path} can be read by other users (mode {mode:o}); make it private with \
         `chmod 600 {path}` and start again"
    )]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error(
        "the key file {path} holds {len} bytes instead of {KEY_LEN}, so it is damaged; put back the copy from \
         your backup (without it the saved printer keys cannot be read)"
    )]
    BadKeyLength { path: PathBuf, len: u64 },
    #[error("the key file {path} is not a plain file")]
    NotAFile { path: PathBuf },
    #[error(
        "the saved API key of printer {printer} cannot be unlocked (it was typed in for another address, the \
         key file was replaced or the database was changed); type the printer's API key again"
    )]
    Unreadable { printer: i64 },
    #[error("{0}")]
    BadField(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The box's secret key, which seals and opens printer credentials. Holds no other state; cheap to share
/// behind an `Arc`.
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault { key: <hidden> }")
    }
}

impl Vault {
    /// Loads `<data_dir>/secret.key`, or creates it (32 random bytes, mode 0600) on a new box.
    /// Refuses a key file other users could read, or one of the wrong length.
    pub fn open(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| SecretError::KeyFile { path: path.clone(), source };
        fs::create_dir_all(data_dir).map_err(io)?;
        let key = match read_key(&path) {
            Err(SecretError::KeyFile { source, .. }) if source.kind() == ErrorKind::NotFound => create_key(&path)?,
            other => other?,
        };
        Ok(Self::from_key(&key))
    }

    fn from_key(key: &[u8; KEY_LEN]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(Key::from_slice(key)) }
    }

    /// Seals a printer's credential fields for that printer at that address (see [`credential_address`]),
    /// with a fresh random nonce.
    pub fn seal(&self, printer_id: i64, address: &str, fields: &Map<String, Value>) -> SealedSecret {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(fields).expect("a JSON map always serialises");
        let aad = associated_data(printer_id, address);
        // Encryption fails only for inputs near 256 GiB; fields are bounded by `MAX_SECRET_LEN`.
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: &plain, aad: &aad })
            .expect("XChaCha20-Poly1305 seals any input this small");
        SealedSecret { nonce: nonce.to_vec(), ciphertext }
    }

    /// Opens what [`Vault::seal`] sealed for this same printer and address; for any other address it
    /// does not open.
    pub fn unseal(
        &self,
        printer_id: i64,
        address: &str,
        sealed: &SealedSecret,
    ) -> Result<Map<String, Value>, SecretError> {
        self.open_with(sealed, &associated_data(printer_id, address), printer_id)
    }

    fn open_with(&self, sealed: &SealedSecret, aad: &[u8], printer_id: i64) -> Result<Map<String, Value>, SecretError> {
        let unreadable = || SecretError::Unreadable { printer: printer_id };
        if sealed.nonce.len() != NONCE_LEN {
            return Err(unreadable());
        }
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad })
            .map_err(|_| unreadable())?;
        serde_json::from_slice(&plain).map_err(|_| unreadable())
    }
}

/// Binds a ciphertext to one printer at one address (and to this use, so a key sealed for something else
/// never opens here).
fn associated_data(printer_id: i64, address: &str) -> Vec<u8> {
    format!("printfarm printer credentials v2; printer {printer_id}; address {address}").into_bytes()
}

/// What version 1 bound a ciphertext to (the printer only); read once at start to re-seal for the address.
fn associated_data_v1(printer_id: i64) -> Vec<u8> {
    format!("printfarm printer credentials v1; printer {printer_id}").into_bytes()
}

/// Where a connection setting sends its credentials, written one way: an `http(s)` URL as scheme, host
/// (lower case), port and path without a trailing slash; a `tcp` address or serial `port` as typed.
/// `http://OctoPi.local/` and `http://octopi.local:80` are one address; `http://octopi.local:5000` another.
pub fn credential_address(connection: &Value) -> String {
    let text = |k: &str| connection.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
    if let Some(url) = text("url") {
        return match reqwest::Url::parse(url) {
            Ok(u) => format!(
                "{}://{}:{}{}",
                u.scheme(),
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or(0),
                u.path().trim_end_matches('/')
            ),
            Err(_) => url.to_string(),
        };
    }
    text("tcp").or_else(|| text("port")).map(str::to_string).unwrap_or_default()
}

/// The address of a stored printer's connection.
fn record_address(record: &PrinterRecord) -> String {
    serde_json::from_str::<Value>(&record.connection).map(|c| credential_address(&c)).unwrap_or_default()
}

fn read_key(path: &Path) -> Result<[u8; KEY_LEN], SecretError> {
    let io = |source| SecretError::KeyFile { path: path.to_path_buf(), source };
    // Looked at before opening: opening a FIFO put in its place would block the start for ever.
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(SecretError::NotAFile { path: path.to_path_buf() });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::InsecureKeyFile { path: path.to_path_buf(), mode });
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(SecretError::BadKeyLength { path: path.to_path_buf(), len: meta.len() });
    }
    let mut key = [0u8; KEY_LEN];
    File::open(path).and_then(|mut f| f.read_exact(&mut key)).map_err(io)?;
    Ok(key)
}

/// Writes a new key under a temporary name (created 0600, never readable by others even for a moment),
/// then links it into place: a crash leaves either no key file or a whole one, and of two processes
/// starting at once the second adopts the first one's key instead of replacing it.
fn create_key(path: &Path) -> Result<[u8; KEY_LEN], SecretError> {
    let io = |source| SecretError::KeyFile { path: path.to_path_buf(), source };
    let key: [u8; KEY_LEN] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
    let tmp = path.with_file_name(format!(".{KEY_FILE}.{}.part", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return read_key(path),
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    tracing::info!(path = %path.display(), "created the key that protects printer credentials; back it up with the database");
    Ok(key)
}

/// A connection setting as a person sent it, split into what is stored in `connection` and the
/// credential fields in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitConnection {
    /// Everything but credentials: safe to store in `connection` and to show.
    pub public: Value,
    /// Credential fields that were sent: a string sets one, `null` removes it. Fields not sent (or sent
    /// empty, as a form left blank does) are absent, so the stored value is kept.
    pub given: Map<String, Value>,
}

/// Takes the credential fields out of a connection setting.
pub fn split_connection(connection: &Value) -> Result<SplitConnection, SecretError> {
    let mut public = connection.clone();
    let mut given = Map::new();
    if let Some(fields) = public.as_object_mut() {
        for name in SECRET_FIELDS {
            match fields.remove(*name) {
                None => {}
                Some(Value::Null) => {
                    given.insert(name.to_string(), Value::Null);
                }
                Some(Value::String(s)) if s.trim().is_empty() => {}
                Some(Value::String(s)) if s.trim().len() > MAX_SECRET_LEN => {
                    return Err(SecretError::BadField(format!(
                        "the {name} is longer than {MAX_SECRET_LEN} characters; copy it again"
                    )));
                }
                Some(Value::String(s)) => {
                    given.insert(name.to_string(), Value::String(s.trim().to_string()));
                }
                Some(_) => return Err(SecretError::BadField(format!("the {name} must be text"))),
            }
        }
    }
    Ok(SplitConnection { public, given })
}

/// The stored credentials with the sent ones laid over them (`null` removes a field).
fn overlay(mut stored: Map<String, Value>, given: &Map<String, Value>) -> Map<String, Value> {
    for (name, value) in given {
        if value.is_null() {
            stored.remove(name);
        } else {
            stored.insert(name.clone(), value.clone());
        }
    }
    stored
}

/// A printer's stored credentials, opened for the address it has now (empty when it has none). A key
/// sealed for another address does not open ([`SecretError::Unreadable`]).
pub async fn credentials(db: &Db, vault: &Vault, record: &PrinterRecord) -> Result<Map<String, Value>, SecretError> {
    match db.printers().secret(record.id).await? {
        Some(sealed) => vault.unseal(record.id, &record_address(record), &sealed),
        None => Ok(Map::new()),
    }
}

/// The connection setting a driver is opened with: the stored one with the credentials put back.
/// Only the farm's connection code calls this; nothing it returns may reach a browser.
pub async fn connection_for_driver(db: &Db, vault: &Vault, record: &PrinterRecord) -> Result<Value, SecretError> {
    let mut connection: Value = serde_json::from_str(&record.connection)
        .map_err(|e| SecretError::BadField(format!("the connection setting is not valid JSON: {e}")))?;
    let stored = credentials(db, vault, record).await?;
    if let Some(fields) = connection.as_object_mut() {
        fields.extend(stored);
    }
    Ok(connection)
}

/// What a change to a printer's connection does to its stored credentials: `new_connection` is the
/// connection setting the printer will have (without credentials). At the same address, fields not sent
/// keep their stored value. At a new address the stored credentials are dropped, never carried over: only
/// what was sent with the new address is sealed, for it. A stored value that can no longer be opened is
/// replaced by what was sent.
pub async fn change_for(
    db: &Db,
    vault: &Vault,
    record: &PrinterRecord,
    new_connection: &Value,
    given: &Map<String, Value>,
) -> Result<SecretChange, SecretError> {
    let address = credential_address(new_connection);
    let moved = address != record_address(record);
    if given.is_empty() && !moved {
        return Ok(SecretChange::Keep);
    }
    let stored = if moved {
        Map::new()
    } else {
        match credentials(db, vault, record).await {
            Ok(stored) => stored,
            Err(SecretError::Unreadable { .. }) => Map::new(),
            Err(e) => return Err(e),
        }
    };
    let merged = overlay(stored, given);
    Ok(if merged.is_empty() {
        SecretChange::Remove
    } else {
        SecretChange::Replace(vault.seal(record.id, &address, &merged))
    })
}

/// Re-seals credentials an older version bound to the printer only, for the address the printer has
/// now (the one the key was last used with). Run at every start; a second run finds nothing to do.
/// Returns how many printers changed.
pub async fn bind_credentials_to_addresses(db: &Db, vault: &Vault) -> Result<usize, SecretError> {
    let mut rebound = 0;
    for record in db.printers().list().await? {
        let Some(sealed) = db.printers().secret(record.id).await? else { continue };
        let address = record_address(&record);
        if vault.unseal(record.id, &address, &sealed).is_ok() {
            continue;
        }
        let Ok(fields) = vault.open_with(&sealed, &associated_data_v1(record.id), record.id) else { continue };
        let change = SecretChange::Replace(vault.seal(record.id, &address, &fields));
        db.printers().update_with_secret(record.id, &PrinterChange::default(), change).await?;
        rebound += 1;
    }
    if rebound > 0 {
        tracing::info!(printers = rebound, "bound saved printer keys to the printers' addresses");
    }
    Ok(rebound)
}

/// Moves credentials an older version kept in plain text in `connection` into `printer_secrets`,
/// sealed. Run at every start; a second run finds nothing to move. Returns how many printers changed.
pub async fn seal_plain_credentials(db: &Db, vault: &Vault) -> Result<usize, SecretError> {
    let mut moved = 0;
    for record in db.printers().list().await? {
        let Ok(connection) = serde_json::from_str::<Value>(&record.connection) else { continue };
        let has_plain = SECRET_FIELDS.iter().any(|f| connection.get(*f).is_some());
        if !has_plain {
            continue;
        }
        let split = match split_connection(&connection) {
            Ok(split) => split,
            // Not a usable key (a number, say): drop it from `connection` rather than keep it in the clear.
            Err(_) => SplitConnection { public: strip_secret_fields(&connection), given: Map::new() },
        };
        let change = change_for(db, vault, &record, &split.public, &split.given).await?;
        let public_only = PrinterChange { connection: Some(split.public), ..Default::default() };
        db.printers().update_with_secret(record.id, &public_only, change).await?;
        moved += 1;
    }
    if moved > 0 {
        // The old rows' pages may still sit in the WAL; fold them into the file (whose freed space
        // `secure_delete` zeroes) and empty the WAL, so no copy of a key stays on disk in the clear.
        db.checkpoint().await?;
        tracing::info!(printers = moved, "moved printer API keys out of plain text into printer_secrets");
    }
    Ok(moved)
}

fn strip_secret_fields(connection: &Value) -> Value {
    let mut c = connection.clone();
    if let Some(fields) = c.as_object_mut() {
        for name in SECRET_FIELDS {
            fields.remove(*name);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ADDR: &str = "http://octopi.local:80";

    fn fields(key: &str) -> Map<String, Value> {
        json!({ "api_key": key }).as_object().unwrap().clone()
    }

    #[test]
    fn sealed_credentials_open_for_their_printer_only() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let sealed = vault.seal(7, ADDR, &fields("0123456789ABCDEF"));
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert!(!sealed.ciphertext.windows(16).any(|w| w == b"0123456789ABCDEF"));
        assert_eq!(vault.unseal(7, ADDR, &sealed).unwrap(), fields("0123456789ABCDEF"));
        assert!(matches!(vault.unseal(8, ADDR, &sealed), Err(SecretError::Unreadable { printer: 8 })));
        // A fresh nonce per write: the same key sealed twice looks different.
        let again = vault.seal(7, ADDR, &fields("0123456789ABCDEF"));
        assert_ne!(again.nonce, sealed.nonce);
        assert_ne!(again.ciphertext, sealed.ciphertext);
    }

    /// Finding 4 of issue 20: a key typed in for one address does not open for another, so a changed URL
    /// never receives it.
    #[test]
    fn sealed_credentials_open_for_their_address_only() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let here = credential_address(&json!({ "url": "http://OctoPi.local/" }));
        assert_eq!(here, "http://octopi.local:80");
        assert_eq!(credential_address(&json!({ "url": "http://octopi.local:80" })), here);
        let sealed = vault.seal(7, &here, &fields("K"));
        assert_eq!(vault.unseal(7, &here, &sealed).unwrap(), fields("K"));
        for elsewhere in ["http://attacker.example", "http://octopi.local:5000", "https://octopi.local", "10.0.0.9:23"]
        {
            let there = credential_address(&json!({ "url": elsewhere, "tcp": elsewhere }));
            assert!(vault.unseal(7, &there, &sealed).is_err(), "the key opened for {elsewhere}");
        }
    }

    #[test]
    fn tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let sealed = vault.seal(1, ADDR, &fields("secret"));
        for i in 0..sealed.ciphertext.len() {
            let mut bad = sealed.clone();
            bad.ciphertext[i] ^= 0x01;
            assert!(vault.unseal(1, ADDR, &bad).is_err(), "a flipped bit {i} went unnoticed");
        }
        let mut bad = sealed.clone();
        bad.nonce[0] ^= 0x80;
        assert!(vault.unseal(1, ADDR, &bad).is_err());
        let mut short = sealed.clone();
        short.nonce.pop();
        assert!(vault.unseal(1, ADDR, &short).is_err());
        // Another box's key does not open it either.
        let other = tempfile::tempdir().unwrap();
        assert!(Vault::open(other.path()).unwrap().unseal(1, ADDR, &sealed).is_err());
    }

    #[test]
    fn the_key_file_is_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Vault::open(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A restart uses the same key: what was sealed before still opens.
        let sealed = first.seal(3, ADDR, &fields("k"));
        assert_eq!(Vault::open(dir.path()).unwrap().unseal(3, ADDR, &sealed).unwrap(), fields("k"));
    }

    #[test]
    fn a_readable_or_damaged_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Vault::open(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = Vault::open(dir.path()).unwrap_err();
            assert!(matches!(err, SecretError::InsecureKeyFile { mode: m, .. } if m == mode), "{err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        Vault::open(dir.path()).unwrap();
        fs::write(&path, [0u8; 31]).unwrap();
        assert!(matches!(Vault::open(dir.path()), Err(SecretError::BadKeyLength { len: 31, .. })));
        // A damaged key is never silently replaced: the file is left for the person to restore.
        assert_eq!(fs::read(&path).unwrap().len(), 31);
        let odd = tempfile::tempdir().unwrap();
        fs::create_dir(odd.path().join(KEY_FILE)).unwrap();
        assert!(matches!(Vault::open(odd.path()), Err(SecretError::NotAFile { .. })));
    }

    #[test]
    fn connections_are_split_into_public_and_credentials() {
        let s = split_connection(&json!({ "url": "http://octopi.local", "api_key": " K1 " })).unwrap();
        assert_eq!(s.public, json!({ "url": "http://octopi.local" }));
        assert_eq!(s.given, fields("K1"));
        let blank = split_connection(&json!({ "url": "http://x", "api_key": "" })).unwrap();
        assert!(blank.given.is_empty(), "a blank field keeps the stored key");
        let removed = split_connection(&json!({ "url": "http://x", "api_key": null })).unwrap();
        assert_eq!(removed.given.get("api_key"), Some(&Value::Null));
        assert!(split_connection(&json!({ "api_key": 5 })).is_err());
        assert!(split_connection(&json!({ "api_key": "k".repeat(MAX_SECRET_LEN + 1) })).is_err());
        let kept = overlay(fields("old"), &Map::new());
        assert_eq!(kept, fields("old"));
        assert!(overlay(fields("old"), &removed.given).is_empty());
    }

    #[tokio::test]
    async fn plain_keys_from_older_versions_are_sealed_once() {
        const PLAIN: &str = "PLAINTEXTKEY-0123456789abcdef0123456789abcdef";
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).await.unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let plain = crate::db::NewPrinter {
            // A short name and a long key: the shorter row written over the old one would leave the start
            // of the old key behind if freed space were not zeroed.
            name: "p".into(),
            driver: "octoprint".into(),
            connection: json!({ "url": "http://octopi.local", "api_key": PLAIN }),
            build_mm: [220.0, 220.0, 250.0],
            nozzle_mm: 0.4,
            firmware: "marlin2".into(),
            tags: vec![],
        };
        let id = db.printers().insert(&plain).await.unwrap();
        let on_disk = || {
            let mut bytes = fs::read(dir.path().join(crate::db::DB_FILE)).unwrap();
            bytes.extend(fs::read(dir.path().join(format!("{}-wal", crate::db::DB_FILE))).unwrap_or_default());
            let key = PLAIN.as_bytes();
            key.windows(8).any(|piece| bytes.windows(8).any(|w| w == piece))
        };
        assert!(on_disk(), "the test's old database does not hold the key it is about");
        assert_eq!(seal_plain_credentials(&db, &vault).await.unwrap(), 1);
        // Checked while the server still runs: a crash now must not leave the key behind either.
        assert!(!on_disk(), "a piece of the old plain key is still on disk");
        assert_eq!(seal_plain_credentials(&db, &vault).await.unwrap(), 0, "a second start moves nothing");
        let record = db.printers().get(id).await.unwrap();
        assert_eq!(record.connection, r#"{"url":"http://octopi.local"}"#);
        assert!(record.api_key_set);
        let c = connection_for_driver(&db, &vault, &record).await.unwrap();
        assert_eq!(c, json!({ "url": "http://octopi.local", "api_key": PLAIN }));
        db.close().await;
        assert!(!on_disk(), "a piece of the old plain key is still on disk");
    }
}
