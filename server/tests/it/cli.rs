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
fn incomplete_commands_and_bad_config_fail_with_a_message() {
    let out = Command::new(BIN).args(["admin", "create"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--username") && err.contains("--password-stdin"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("printfarm.toml");
    std::fs::write(&cfg, "[demo]\nspeed = \"fast\"\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&cfg).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("printfarm.toml is not valid"), "{err}");
}

#[test]
fn printers_print_streams_a_file_and_fails_with_the_printers_error() {
    use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
    // The simulators run on this runtime's threads while the CLI runs as a child process.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cube.gcode");
    let moves: Vec<String> = (0..300).map(|i| format!("G1 X{}.5 Y{}.25 F3000", i % 100, i / 100)).collect();
    std::fs::write(&file, format!("G28 ; home\n{}\n", moves.join("\n"))).unwrap();
    let instant = || SimConfig { speedup: f64::INFINITY, ..SimConfig::default() };

    let good = MarlinSim::new(instant(), Faults::default());
    let pty = good.serve_pty().unwrap();
    let out = Command::new(BIN)
        .args(["printers", "print", "--baud", "250000", "--port"])
        .arg(&pty.path)
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Finished cube.gcode"), "{err}");
    let ran: Vec<String> = good.executed().into_iter().filter(|c| c.starts_with("G1 X")).collect();
    assert_eq!(ran, moves);

    let bad = MarlinSim::new(instant(), Faults { thermal_runaway_after: [100].into(), ..Faults::default() });
    let pty = bad.serve_pty().unwrap();
    let out = Command::new(BIN).args(["printers", "print", "--port"]).arg(&pty.path).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the print failed: Thermal Runaway, system stopped! Heater_ID: 0"), "{err}");

    let out = Command::new(BIN).args(["printers", "print"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a printer must be named");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--port") && err.contains("--octoprint") && err.contains("--moonraker"), "{err}");
}

#[test]
fn printers_discover_lists_ports_and_services_as_json() {
    let out = Command::new(BIN).args(["printers", "discover", "--json", "--mdns-ms", "300"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["serial"].is_array() && doc["network"].is_array(), "{doc}");
}

#[test]
fn generate_writes_a_printable_model_or_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("tag.3mf");
    let out = Command::new(BIN)
        .args(["generate", "a name tag for Maya", "--thumbnail", "-o"])
        .arg(&out_file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("Name tag — Maya") && summary.contains("printable"), "{summary}");
    let model = mesh::io::read_file(&out_file, &mesh::io::Limits::default()).unwrap();
    assert!(mesh::validate::validate(&model.merged(), None).printable);
    assert!(std::fs::read(dir.path().join("tag.png")).unwrap().starts_with(b"\x89PNG"));

    // Nothing matches: the closest designs, with the flag to pick one.
    let out = Command::new(BIN)
        .args(["generate", "a dragon", "-o"])
        .arg(dir.path().join("d.stl"))
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--template name-tag"), "{err}");
    let out = Command::new(BIN)
        .args(["generate", "a dragon", "--template", "coaster", "-o"])
        .arg(dir.path().join("d.stl"))
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Asking for the AI tier on a box without a model pack says so.
    let out = Command::new(BIN)
        .args(["generate", "a shark", "--tier", "shap-e", "-o"])
        .arg(dir.path().join("s.glb"))
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No AI model is installed"));
    let out = Command::new(BIN).args(["generate", "a cup", "-o", "cup.docx"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".3mf, .stl or .glb"));
}
