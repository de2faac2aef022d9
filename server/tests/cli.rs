//! The real `printfarm` binary: start, serve, stop on SIGTERM, and the CLI's error paths.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_printfarm");

#[test]
fn serve_stops_cleanly_on_sigterm_and_state_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("PRINTFARM_DEMO_PRINTERS", "2")
        .env("PRINTFARM_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening") {
            break;
        }
    }
    assert!(log.contains("listening"), "server did not start:\n{log}");
    assert!(log.contains("demo farm"), "{log}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "still running 15 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(exit.success(), "exit {exit:?}\n{}", rest.join("\n"));
    assert!(rest.iter().any(|l| l.contains("stopped cleanly")), "{rest:?}");

    let out = Command::new(BIN).args(["printers", "list", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains("Ada") && listing.contains("Babbage"), "{listing}");
}

#[test]
fn unfinished_commands_and_bad_config_fail_with_a_message() {
    let out = Command::new(BIN).args(["generate", "a cat"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not available in this build yet") && err.contains("#7"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("printfarm.toml");
    std::fs::write(&cfg, "[demo]\nspeed = \"fast\"\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&cfg).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("printfarm.toml is not valid"), "{err}");
}
