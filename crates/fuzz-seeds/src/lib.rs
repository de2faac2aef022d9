//! Fuzz targets as ordinary tests.
//!
//! Every parser of untrusted input has a libFuzzer target (`<crate>/fuzz`, run on demand by `scripts/fuzz`).
//! Building those needs sanitizer instrumentation and a target directory of their own, which cost CI minutes
//! for seconds of fuzzing. The target's check (the body of `fuzz_target!`) lives in
//! `<crate>/fuzz/checks/<target>.rs`, and the crate's integration tests include the same file and hand it to
//! [`run`]: every committed seed, then a fixed number of seeded mutations of each (truncations, bit flips,
//! inserted and deleted bytes, repeated runs, splices of two seeds, boundary numbers), go through the check.
//! The same inputs every run, so a failure reproduces; a new crash that a long `scripts/fuzz` run finds is
//! added to `fuzz/seeds/<target>/` and from then on runs in every CI.
//!
//! A failing input is written to `target/fuzz-seeds/<target>/` so it can be replayed with `cargo fuzz run` or
//! added to the seeds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// One input and where it came from, for the failure report.
struct Input {
    origin: String,
    bytes: Vec<u8>,
}

/// Inputs larger than this are cut (libFuzzer runs with `-max_len=262144` too).
pub const MAX_LEN: usize = 256 * 1024;

/// Runs `check` on every file under `dirs` (recursively) and on `mutations` seeded variants of each.
/// Panics, naming every input that made `check` panic, when any did; panics when `dirs` hold no seed at all,
/// since a missing corpus would otherwise pass without testing anything.
pub fn run(target: &str, dirs: &[PathBuf], mutations: usize, check: impl Fn(&[u8])) {
    let seeds = read_seeds(dirs);
    assert!(!seeds.is_empty(), "{target}: no seeds under {dirs:?}; the corpus is part of the test");
    let mut rng = XorShift::new(fnv1a(target.as_bytes()));
    let mut inputs = Vec::with_capacity(seeds.len() * (mutations + 1));
    for (i, seed) in seeds.iter().enumerate() {
        inputs.push(Input { origin: seed.origin.clone(), bytes: seed.bytes.clone() });
        for m in 0..mutations {
            let other = &seeds[rng.below(seeds.len())].bytes;
            let bytes = mutate(&seed.bytes, other, &mut rng);
            inputs.push(Input { origin: format!("{} (mutation {m} of seed {i})", seed.origin), bytes });
        }
    }

    let mut failures = Vec::new();
    for input in &inputs {
        if catch_unwind(AssertUnwindSafe(|| check(&input.bytes))).is_err() {
            let saved = save_failure(target, &input.bytes);
            failures.push(format!("{} -> saved as {}", input.origin, saved.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs failed the check (the panics are printed above):\n  {}\n\
         Reproduce one with `cargo fuzz run {target} <file>` in the crate, fix it, and add it to fuzz/seeds/{target}/.",
        failures.len(),
        inputs.len(),
        failures.join("\n  ")
    );
}

/// Every regular file under `dirs`, sorted by path so the run is the same on every machine.
fn read_seeds(dirs: &[PathBuf]) -> Vec<Input> {
    let mut paths = Vec::new();
    for dir in dirs {
        assert!(dir.is_dir(), "the seed folder {} is missing", dir.display());
        collect(dir, &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let mut bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("reading the seed {}: {e}", p.display()));
            bytes.truncate(MAX_LEN);
            Input { origin: p.display().to_string(), bytes }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn save_failure(target: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-seeds").join(target);
    let path = dir.join(format!("crash-{:016x}", fnv1a(bytes)));
    // The report still names the input when the file cannot be written.
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, bytes));
    path
}

/// One mutation of `seed`, in the spirit of libFuzzer's: each keeps most of the seed, so the input still
/// gets past the first checks of a format and reaches the code behind them.
fn mutate(seed: &[u8], other: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut out = seed.to_vec();
    // One to four edits, as libFuzzer stacks them.
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => out.truncate(rng.below(len)),
            1 if len > 0 => {
                let at = rng.below(len);
                out[at] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let at = rng.below(len);
                out[at] = rng.next() as u8;
            }
            3 => {
                let at = rng.below(len + 1);
                let byte = *b"\0\n :;,.{}[]<>\"'/\\-0123456789\xff".get(rng.below(31)).unwrap_or(&0);
                out.insert(at, byte);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                out.drain(at..at + n);
            }
            5 if len > 0 => {
                // A stretch repeated: long lines, deep nesting, many records.
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let chunk = out[at..at + n].to_vec();
                for _ in 0..=rng.below(8) {
                    out.splice(at..at, chunk.iter().copied());
                }
            }
            6 if !other.is_empty() => {
                // The head of this seed and the tail of another.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            7 if len >= 4 => {
                // A boundary number over four bytes (lengths, counts and offsets in binary formats).
                let at = rng.below(len - 3);
                let value: u32 = [0, 1, 0x7f, 0xff, 0x7fff_ffff, 0x8000_0000, u32::MAX][rng.below(7)];
                out[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
            8 => {
                // A number in the text: huge, negative, not a number.
                let at = rng.below(len + 1);
                let text = ["1e308", "-1", "NaN", "99999999999999999999", "0.0000001", "-0"][rng.below(6)];
                out.splice(at..at, text.bytes());
            }
            _ => {}
        }
    }
    out.truncate(MAX_LEN);
    out
}

/// A small, seeded generator: the same mutations on every machine and every run.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_the_same_every_run_and_stay_bounded() {
        let seed = b"solid cube\nfacet normal 0 0 1\nendsolid".to_vec();
        let a: Vec<_> = {
            let mut rng = XorShift::new(7);
            (0..200).map(|_| mutate(&seed, b"other", &mut rng)).collect()
        };
        let mut rng = XorShift::new(7);
        for m in &a {
            assert_eq!(*m, mutate(&seed, b"other", &mut rng));
            assert!(m.len() <= MAX_LEN);
        }
        assert!(a.iter().filter(|m| **m != seed).count() > 150, "most mutations change the seed");
    }

    #[test]
    fn a_check_that_panics_fails_the_run_and_keeps_the_input() {
        let dir = std::env::temp_dir().join(format!("fuzz-seeds-selftest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"fine").unwrap();
        std::fs::write(dir.join("b"), b"boom").unwrap();
        let result = catch_unwind(|| {
            run("selftest", std::slice::from_ref(&dir), 3, |data| assert!(!data.starts_with(b"boom"), "boom"))
        });
        std::fs::remove_dir_all(&dir).unwrap();
        let message = *result.expect_err("a panicking check fails the run").downcast::<String>().unwrap();
        assert!(message.contains("/b"), "the report names the seed: {message}");
        assert!(message.contains("target/fuzz-seeds/selftest/crash-"), "and where it was saved: {message}");
    }

    #[test]
    fn an_empty_corpus_is_an_error_not_a_pass() {
        let dir = std::env::temp_dir().join(format!("fuzz-seeds-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let result = catch_unwind(|| run("empty", std::slice::from_ref(&dir), 3, |_| {}));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(result.is_err());
    }
}
