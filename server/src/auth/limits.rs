//! Limits on guessing: failed sign-ins are counted per client address (and quick sign-ins per
//! account too), in memory, in a sliding window. A restart forgets them, which is fine: a restart
//! takes longer than the window lets anyone guess.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key within `window`; `max` failures lock the key until the oldest expires.
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl FailureLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        Self { max, window, failures: Mutex::new(HashMap::new()) }
    }

    /// `Some(wait)` when `key` has used up its tries: how long until the next one.
    pub fn locked(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let list = all.get_mut(key)?;
        list.retain(|t| now.duration_since(*t) < self.window);
        if list.len() < self.max {
            return None;
        }
        list.first().map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
    }

    pub fn fail(&self, key: &str) {
        let now = Instant::now();
        let mut all = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded memory under a flood from many addresses: forget whoever has nothing recent.
        if all.len() > 10_000 {
            all.retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) < self.window));
        }
        all.entry(key.to_string()).or_default().push(now);
    }

    /// A success clears the key's failures.
    pub fn succeed(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
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

    #[test]
    fn a_key_locks_after_max_failures_and_unlocks_on_success() {
        let l = FailureLimiter::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            l.fail("10.0.0.9");
        }
        assert!(l.locked("10.0.0.9").is_none());
        l.fail("10.0.0.9");
        let wait = l.locked("10.0.0.9").expect("locked after 3");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(l.locked("10.0.0.10").is_none(), "others are not affected");
        l.succeed("10.0.0.9");
        assert!(l.locked("10.0.0.9").is_none());
    }

    #[test]
    fn failures_expire_with_the_window() {
        let l = FailureLimiter::new(1, Duration::from_millis(1));
        l.fail("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.locked("a").is_none());
    }

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(Duration::from_secs(5)), "5 seconds");
        assert_eq!(wait_words(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_words(Duration::from_secs(60)), "1 minute");
    }
}
