//! The Python peers scripts/setup-test installs from PyPI (one venv each under `$PRINTFARM_PEERS_DIR`, default
//! `~/.cache/printfarm/peers`) and the processes the tests start from them.

pub mod klippy;
pub mod octoprint;

use std::path::PathBuf;
use std::process::Child;

/// The executable `bin` of the venv of `peer` (its name; the venv folder is the name in lower case); fails the
/// test with what to run when the peer is missing.
pub fn installed(peer: &str, requirement: &str, bin: &str) -> PathBuf {
    let folder = peer.to_lowercase();
    let dir = std::env::var_os("PRINTFARM_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/printfarm/peers"));
    let path = dir.join(&folder).join("bin").join(bin);
    assert!(
        path.exists(),
        "{peer} is not installed at {}: run scripts/setup-test (it installs {requirement} from PyPI), \
         or point PRINTFARM_PEERS_DIR at a directory with a {folder}/ venv that has it",
        path.display()
    );
    path
}

/// A peer's process, killed and reaped when the test is done with it (or panics).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
