//! Secrets people hold: passwords and PINs (argon2id, slow on purpose), session tokens and API keys
//! (long random strings, so a fast SHA-256 is enough to store them safely).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What every API key starts with, so a leaked one is easy to recognise (and to grep for).
pub const KEY_PREFIX: &str = "pf_";
/// How many characters of a key are kept to tell keys apart in lists.
const SHOWN_CHARS: usize = 10;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// A PIN is 4 to 8 digits: quick to type on a kiosk, and tries are limited.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=8;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    ShortPassword,
    #[error("a PIN is 4 to 8 digits")]
    BadPin,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// An argon2id hash (PHC string) of a password or PIN. Takes tens of milliseconds: call it off the
/// async runtime (see [`hash_blocking`]).
pub fn hash_secret(secret: &str) -> Result<String, CredentialError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Whether `secret` matches a stored PHC hash; a malformed hash never matches.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
}

/// [`hash_secret`] on a blocking thread.
pub async fn hash_blocking(secret: String) -> Result<String, CredentialError> {
    tokio::task::spawn_blocking(move || hash_secret(&secret)).await.map_err(|e| CredentialError::Hash(e.to_string()))?
}

/// [`verify_secret`] on a blocking thread; `None` hashes still cost the same time, so a missing
/// account is not faster to reject than a wrong password.
pub async fn verify_blocking(secret: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_secret(&secret, &h),
        None => {
            let _ = hash_secret(&secret);
            false
        }
    })
    .await
    .unwrap_or(false)
}

pub fn check_password(password: &str) -> Result<(), CredentialError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(CredentialError::ShortPassword);
    }
    Ok(())
}

pub fn check_pin(pin: &str) -> Result<(), CredentialError> {
    if !PIN_DIGITS.contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::BadPin);
    }
    Ok(())
}

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system has no randomness");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of a token or key, as stored.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new API key: the key (shown once), its stored hash, and the prefix kept for lists.
pub fn new_api_key() -> (String, Vec<u8>, String) {
    let key = format!("{KEY_PREFIX}{}", random_token(32));
    let hash = digest(&key);
    let shown = key.chars().take(SHOWN_CHARS).collect();
    (key, hash, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_secret("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_secret("correct horse", &h));
        assert!(!verify_secret("correct hors", &h));
        assert!(!verify_secret("correct horse", "not a hash"));
        // Salted: the same password hashes differently each time.
        assert_ne!(h, hash_secret("correct horse").unwrap());
    }

    #[test]
    fn keys_are_long_random_and_stored_only_as_hashes() {
        let (a, ha, shown) = new_api_key();
        let (b, hb, _) = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() >= 40, "{a}");
        assert_eq!(ha, digest(&a));
        assert_ne!(ha, hb);
        assert!(a.starts_with(&shown) && shown.len() == SHOWN_CHARS);
    }

    #[test]
    fn pins_and_passwords_have_rules() {
        assert!(check_pin("1234").is_ok() && check_pin("12345678").is_ok());
        for bad in ["123", "123456789", "12a4", "", "１２３４"] {
            assert!(check_pin(bad).is_err(), "{bad}");
        }
        assert!(check_password("seven77").is_err());
        assert!(check_password("eight888").is_ok());
    }
}
