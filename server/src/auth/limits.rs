//! Limits on guessing, in memory, in a sliding window. A restart forgets them, which is fine: a restart
//! takes longer than the window lets anyone guess.
//!
//! **Invariant:** an attempt is counted *before* its secret is checked, under one lock, against every
//! bucket it belongs to at once ([`SignInLimits::begin`]). So a limit of ten holds however many
//! attempts arrive together: the eleventh is refused before anything is checked. A right secret takes
//! back only its own attempt ([`SignInLimits::right`]); it never clears failures against another
//! account or from anyone else.
//!
//! Buckets are chosen by [`crate::auth::Auth`]: per account and address for passwords (so one person's
//! wrong guesses lock only the account they guess at, not everyone behind a school's shared address),
//! per account for PINs, and per address across accounts (against guessing one password for many
//! accounts), from which people who signed in from that address before are exempt.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long someone who signed in from an address stays known there.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Above this many keys, forget whatever has nothing recent (a flood from many addresses or names).
const MAX_KEYS: usize = 10_000;

/// A bucket an attempt counts against.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub key: String,
    /// Failures it holds within the window; the next attempt waits.
    pub max: usize,
    /// `false`: the attempt is counted here but not refused by it (a person known at this address is
    /// not locked out by someone else's guessing there).
    pub enforced: bool,
    /// A right secret empties the bucket (the failures were the same person's typos from the same place).
    pub cleared_by_success: bool,
}

/// An attempt counted in its buckets; [`SignInLimits::right`] takes it back.
#[must_use = "an attempt stays counted as a failure unless it is taken back"]
#[derive(Debug)]
pub struct Attempt {
    buckets: Vec<Bucket>,
    at: Instant,
}

pub struct SignInLimits {
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Attempts not known to be right, per bucket key, oldest first.
    failures: HashMap<String, Vec<Instant>>,
    /// People (`name@address`) who signed in from an address, and when last.
    known: HashMap<String, Instant>,
}

impl SignInLimits {
    pub fn new(window: Duration) -> Self {
        Self { window, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one attempt in every bucket, before the secret is checked. `Err(wait)` when an enforced
    /// bucket is full: then nothing is counted, and `wait` is how long until the next try.
    pub fn begin(&self, buckets: Vec<Bucket>) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let mut state = self.state();
        if state.failures.len() > MAX_KEYS {
            let window = self.window;
            state.failures.retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < window));
        }
        let mut wait = None;
        for b in &buckets {
            let Some(list) = state.failures.get_mut(&b.key) else { continue };
            list.retain(|t| now.duration_since(*t) < self.window);
            if b.enforced && list.len() >= b.max {
                let until = list.first().map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)));
                wait = wait.max(until);
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for b in &buckets {
            state.failures.entry(b.key.clone()).or_default().push(now);
        }
        Ok(Attempt { buckets, at: now })
    }

    /// The secret was right: the attempt was no failure, and buckets cleared by success are emptied.
    pub fn right(&self, attempt: Attempt) {
        let mut state = self.state();
        for b in &attempt.buckets {
            if b.cleared_by_success {
                state.failures.remove(&b.key);
            } else if let Some(list) = state.failures.get_mut(&b.key) {
                if let Some(i) = list.iter().position(|t| *t == attempt.at) {
                    list.remove(i);
                }
            }
        }
    }

    /// Whether `person` (`name@address`) signed in from that address within the last 30 days.
    pub fn knows(&self, person: &str) -> bool {
        self.state().known.get(person).is_some_and(|t| t.elapsed() < KNOWN_FOR)
    }

    /// Remembers that `person` signed in from their address.
    pub fn remember(&self, person: &str) {
        let now = Instant::now();
        let mut state = self.state();
        if state.known.len() > MAX_KEYS {
            state.known.retain(|_, t| now.duration_since(*t) < KNOWN_FOR);
        }
        state.known.insert(person.to_string(), now);
    }
}

/// "about 3 minutes", for messages.
pub fn wait_words(d: Duration) -> String {
    let s = d.as_secs().max(1);
    if s < 60 {
        format!("{s} seconds")
    } else {
        let m = s.div_ceil(60);
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(key: &str, max: usize) -> Bucket {
        Bucket { key: key.into(), max, enforced: true, cleared_by_success: false }
    }

    #[test]
    fn attempts_count_before_the_check_and_lock_at_max() {
        let l = SignInLimits::new(Duration::from_secs(60));
        let held: Vec<Attempt> = (0..3).map(|_| l.begin(vec![bucket("10.0.0.9", 3)]).unwrap()).collect();
        // Three attempts in flight, none checked yet: the fourth already waits.
        let wait = l.begin(vec![bucket("10.0.0.9", 3)]).expect_err("locked after 3");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(l.begin(vec![bucket("10.0.0.10", 3)]).is_ok(), "others are not affected");
        // One was right: only that one is taken back.
        let mut held = held.into_iter();
        l.right(held.next().unwrap());
        assert!(l.begin(vec![bucket("10.0.0.9", 3)]).is_ok());
        assert!(l.begin(vec![bucket("10.0.0.9", 3)]).is_err());
    }

    #[test]
    fn a_success_clears_only_its_own_buckets() {
        let l = SignInLimits::new(Duration::from_secs(60));
        let account = |name: &str| Bucket { cleared_by_success: true, ..bucket(&format!("pw:{name}"), 2) };
        let _ = l.begin(vec![account("vic")]).unwrap();
        let _ = l.begin(vec![account("vic")]).unwrap();
        l.right(l.begin(vec![account("mal")]).unwrap());
        assert!(l.begin(vec![account("vic")]).is_err(), "mallory's success does not clear vic's failures");
    }

    #[test]
    fn a_full_bucket_refuses_without_counting_in_the_others() {
        let l = SignInLimits::new(Duration::from_secs(60));
        let _ = l.begin(vec![bucket("a", 1)]).unwrap();
        assert!(l.begin(vec![bucket("b", 1), bucket("a", 1)]).is_err());
        assert!(l.begin(vec![bucket("b", 1)]).is_ok(), "the refused attempt was not counted in b");
    }

    #[test]
    fn unenforced_buckets_count_but_do_not_refuse() {
        let l = SignInLimits::new(Duration::from_secs(60));
        let _ = l.begin(vec![bucket("addr", 1)]).unwrap();
        let known = Bucket { enforced: false, ..bucket("addr", 1) };
        assert!(l.begin(vec![known]).is_ok());
        assert!(l.begin(vec![bucket("addr", 1)]).is_err());
        assert!(!l.knows("ann@addr"));
        l.remember("ann@addr");
        assert!(l.knows("ann@addr"));
    }

    #[test]
    fn failures_expire_with_the_window() {
        let l = SignInLimits::new(Duration::from_millis(1));
        let _ = l.begin(vec![bucket("a", 1)]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.begin(vec![bucket("a", 1)]).is_ok());
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(Duration::from_secs(5)), "5 seconds");
        assert_eq!(wait_words(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_words(Duration::from_secs(60)), "1 minute");
    }
}
