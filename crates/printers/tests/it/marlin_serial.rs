//! The serial driver against the simulated Marlin behind a pseudo-terminal, with each fault the
//! simulator can inject: files complete with every line executed exactly once and in order, and the
//! faults that must end a print end it with the printer's own words.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use printers::marlin::{Connector, Link, MarlinDriver, MarlinOptions};
use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
use printers::{PrinterDriver, PrinterState, PrinterStatus};
use tokio::sync::watch;

/// Generous: a hung test fails instead of hanging, but no pass depends on speed.
const LIMIT: Duration = Duration::from_secs(30);

fn gcode_file(dir: &tempfile::TempDir, moves: usize) -> (PathBuf, Vec<String>) {
    let mut text = String::from("; printfarm test job\n;LAYER_COUNT:10\nG90\nM82\nG28\nG92 E0\n");
    // Only the moves are unique; the header's G90/M82 also appear in park and restore scripts.
    let mut commands = Vec::new();
    for i in 0..moves {
        if i % (moves / 10).max(1) == 0 {
            text.push_str(&format!(";LAYER:{}\n", i / (moves / 10).max(1)));
        }
        let cmd =
            format!("G1 X{:.2} Y{:.2} E{:.4} F3000", (i % 200) as f64 + 0.5, (i / 200) as f64 + 0.25, i as f64 * 0.01);
        text.push_str(&format!("{cmd} ; move {i}\n"));
        commands.push(cmd);
    }
    let path = dir.path().join("job.gcode");
    std::fs::write(&path, text).unwrap();
    (path, commands)
}

fn fast_options() -> MarlinOptions {
    MarlinOptions {
        ok_timeout: Duration::from_millis(400),
        temperature_interval: Duration::from_secs(1),
        reconnect_interval: Duration::from_millis(200),
        ..MarlinOptions::default()
    }
}

fn instant_sim(advanced_ok: bool, faults: Faults) -> MarlinSim {
    MarlinSim::new(SimConfig { speedup: f64::INFINITY, advanced_ok, ..SimConfig::default() }, faults)
}

async fn wait(
    rx: &mut watch::Receiver<PrinterStatus>,
    what: &str,
    want: impl FnMut(&PrinterStatus) -> bool,
) -> PrinterStatus {
    match tokio::time::timeout(LIMIT, printers::driver::wait_for(rx, want)).await {
        Ok(Some(s)) => s,
        Ok(None) => panic!("driver gone while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}; last status {:?}", *rx.borrow()),
    }
}

/// The commands the simulator executed that came from the file, in order.
fn from_file(sim: &MarlinSim, file: &[String]) -> Vec<String> {
    let set: std::collections::HashSet<&String> = file.iter().collect();
    sim.executed().into_iter().filter(|c| set.contains(c)).collect()
}

async fn print_over_pty(sim: &MarlinSim, moves: usize) -> (MarlinDriver, Vec<String>, PrinterStatus) {
    let dir = tempfile::tempdir().unwrap();
    let (path, commands) = gcode_file(&dir, moves);
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| {
        s.state == PrinterState::Idle && s.firmware.as_ref().is_some_and(|f| !f.capabilities.is_empty())
    })
    .await;
    let file = driver.upload(&path).await.unwrap();
    driver.start(&file.name).await.unwrap();
    let end = wait(&mut rx, "the end of the job", |s| {
        s.state == PrinterState::Error
            || (s.state == PrinterState::Idle && s.message.as_deref() == Some("Finished job.gcode"))
    })
    .await;
    driver.disconnect().await.unwrap();
    drop(pty);
    (driver, commands, end)
}

#[tokio::test]
async fn a_clean_print_runs_every_line_once_in_order() {
    let sim = instant_sim(false, Faults::default());
    let (driver, commands, end) = print_over_pty(&sim, 600).await;
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    assert_eq!(end.progress, Some(1.0));
    assert_eq!(end.total_layers, Some(10));
    let fw = end.firmware.unwrap();
    assert!(fw.name.starts_with("Marlin 2.1.2.4"), "{fw:?}");
    assert!(fw.has("AUTOREPORT_TEMP") && fw.has("EMERGENCY_PARSER"), "{fw:?}");
    assert_eq!(from_file(&sim, &commands), commands);
    // The handshake found autoreport, so temperatures were not polled.
    assert!(sim.executed().iter().any(|c| c == "M155 S1"), "{:?}", &sim.executed()[..8]);
    assert!(!sim.executed().iter().any(|c| c == "M105"));
    assert_eq!(driver.stats().resends, 0);
}

#[tokio::test]
async fn lost_oks_are_recovered_without_repeating_lines() {
    let faults = Faults { drop_ok: [20, 150, 151, 400].into(), ..Faults::default() };
    let sim = instant_sim(false, faults);
    let (driver, commands, end) = print_over_pty(&sim, 500).await;
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    assert_eq!(from_file(&sim, &commands), commands);
    assert!(driver.stats().lost_oks >= 4, "{:?}", driver.stats());
}

#[tokio::test]
async fn corrupted_lines_are_resent_and_run_once() {
    let faults = Faults { corrupt: [5, 77, 78, 300].into(), ..Faults::default() };
    let sim = instant_sim(false, faults);
    let (driver, commands, end) = print_over_pty(&sim, 500).await;
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    assert_eq!(from_file(&sim, &commands), commands);
    assert!(driver.stats().resends >= 4, "{:?}", driver.stats());
}

#[tokio::test]
async fn advanced_ok_windows_survive_corruption_and_lost_oks() {
    let faults = Faults { corrupt: [30, 31, 250].into(), drop_ok: [100, 101, 350].into(), ..Faults::default() };
    let sim = instant_sim(true, faults);
    let (driver, commands, end) = print_over_pty(&sim, 800).await;
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    assert_eq!(from_file(&sim, &commands), commands);
    assert!(driver.stats().resends >= 2, "{:?}", driver.stats());
}

#[tokio::test]
async fn a_reset_mid_print_fails_the_job_with_the_reason() {
    let sim = instant_sim(false, Faults { reset_after: [200].into(), ..Faults::default() });
    let (_driver, commands, end) = print_over_pty(&sim, 500).await;
    assert_eq!(end.state, PrinterState::Error);
    assert!(end.message.as_deref().unwrap_or("").contains("reset during the print"), "{end:?}");
    let ran = from_file(&sim, &commands);
    assert!(ran.len() < commands.len(), "the job must stop at the reset");
    assert_eq!(ran, commands[..ran.len()], "what ran before the reset ran in order, once");
    assert_eq!(sim.boots(), 2);
}

#[tokio::test]
async fn thermal_runaway_stops_the_print_with_the_printers_words() {
    let sim = instant_sim(false, Faults { thermal_runaway_after: [120].into(), ..Faults::default() });
    let (_driver, commands, end) = print_over_pty(&sim, 500).await;
    assert_eq!(end.state, PrinterState::Error);
    assert_eq!(end.message.as_deref(), Some("Thermal Runaway, system stopped! Heater_ID: 0"));
    assert_eq!(end.last_error, end.message);
    assert!(from_file(&sim, &commands).len() < commands.len());
}

#[tokio::test]
async fn pause_parks_resume_restores_and_cancel_leaves_heaters_off() {
    // Real motion time (sped up 20x) so the job is still running when we pause it.
    let sim = MarlinSim::new(SimConfig { speedup: 20.0, ..SimConfig::default() }, Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let (path, commands) = gcode_file(&dir, 400);
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 115_200, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    driver.send_gcode(&["M104 S200".into(), "M140 S60".into()]).await.unwrap();
    let name = driver.upload(&path).await.unwrap().name;
    driver.start(&name).await.unwrap();
    wait(&mut rx, "some progress", |s| s.bytes.is_some_and(|b| b.done > 2000)).await;
    driver.pause().await.unwrap();
    assert_eq!(rx.borrow().state, PrinterState::Paused);
    // Parking is queued behind what is in flight; wait until the printer has done it.
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !sim.executed().iter().any(|c| c == "G1 Z10.00 F600") {
        assert!(tokio::time::Instant::now() < deadline, "never parked: {:?}", sim.executed().last());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ran_before = from_file(&sim, &commands).len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(from_file(&sim, &commands).len(), ran_before, "nothing from the file runs while paused");
    driver.resume().await.unwrap();
    wait(&mut rx, "more progress", |s| s.bytes.is_some_and(|b| b.done > 8000)).await;
    driver.cancel().await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !sim.executed().iter().any(|c| c == "M84") {
        assert!(tokio::time::Instant::now() < deadline, "cancel script never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = sim.executed();
    let park = log.iter().position(|c| c == "G1 Z10.00 F600").unwrap();
    assert_eq!(&log[park - 2..park], ["G91", "G1 E-2.00 F2400"]);
    // Resume went back to where the job was, then un-retracted and restored absolute modes.
    let resume = log.iter().skip(park).position(|c| c == "G1 E2.00 F2400").unwrap() + park;
    assert!(log[park..resume]
        .iter()
        .any(|c| c.starts_with("G1 X") && c.ends_with("F6000") && !c.starts_with("G1 X0.00")));
    assert_eq!(&log[resume + 1..resume + 3], ["G90", "M82"]);
    let ran = from_file(&sim, &commands);
    assert_eq!(ran, commands[..ran.len()], "lines around the pause ran once, in order");
    assert!(ran.len() < commands.len(), "cancel stopped the job");
    let cancel = log.iter().rposition(|c| c == "M104 S0").unwrap();
    assert!(log[cancel..].contains(&"M140 S0".to_string()) && log[cancel..].contains(&"G1 Z10.00 F600".to_string()));
    assert_eq!(rx.borrow().state, PrinterState::Idle);
    assert!(rx.borrow().message.as_deref().unwrap_or("").starts_with("Cancelled"));
    driver.disconnect().await.unwrap();
}

#[tokio::test]
async fn emergency_stop_halts_the_printer() {
    let sim = instant_sim(false, Faults::default());
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    driver.send_gcode(&["M112".into()]).await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !sim.executed().contains(&"M112".to_string()) {
        assert!(tokio::time::Instant::now() < deadline, "M112 never reached the printer");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = rx.borrow().clone();
    assert_eq!(s.state, PrinterState::Error);
    assert_eq!(s.message.as_deref(), Some("Emergency stop (M112) sent by the host"));
}

/// Serves one simulated board per TCP connection, and hands back each connection's task so the
/// test can "pull the cable" by aborting it.
async fn tcp_printer(sim: MarlinSim) -> (String, tokio::sync::mpsc::UnboundedReceiver<tokio::task::JoinHandle<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let sim = sim.clone();
            let _ = tx.send(tokio::spawn(async move {
                let _ = sim.serve(sock).await;
            }));
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_pulled_cable_is_an_error_and_the_driver_reconnects() {
    let sim = instant_sim(false, Faults::default());
    let (addr, mut conns) = tcp_printer(sim.clone()).await;
    let driver = MarlinDriver::tcp(addr, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle over TCP", |s| s.state == PrinterState::Idle).await;
    conns.recv().await.unwrap().abort();
    let s = wait(&mut rx, "the loss to show", |s| s.state == PrinterState::Error).await;
    assert!(s.message.as_deref().unwrap_or("").contains("connection lost"), "{s:?}");
    assert!(driver.send_gcode(&["G28".into()]).await.is_err() || rx.borrow().state != PrinterState::Error);
    wait(&mut rx, "the reconnect", |s| s.state == PrinterState::Idle).await;
    assert_eq!(sim.boots(), 2);
    driver.send_gcode(&["G28".into()]).await.unwrap();
    driver.disconnect().await.unwrap();
    assert_eq!(rx.borrow().state, PrinterState::Disconnected);
}

#[tokio::test]
async fn an_unplugged_serial_port_is_an_error_not_a_panic() {
    let sim = instant_sim(false, Faults::default());
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    drop(pty);
    let s = wait(&mut rx, "the unplug to show", |s| s.state == PrinterState::Error).await;
    assert!(s.message.is_some(), "{s:?}");
    driver.disconnect().await.unwrap();
}

#[tokio::test]
async fn any_link_works_through_a_connector() {
    // The in-process path the demo farm uses: a duplex pipe instead of a device.
    let sim = instant_sim(true, Faults::default());
    let s = sim.clone();
    let connector: Connector = Arc::new(move || {
        let s = s.clone();
        Box::pin(async move {
            let (host, board) = tokio::io::duplex(4096);
            tokio::spawn(async move { s.serve(board).await });
            Ok(Box::new(host) as Box<dyn Link>)
        })
    });
    let driver = MarlinDriver::with_connector("in-process", connector, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    driver.send_gcode(&["M104 S215".into()]).await.unwrap();
    wait(&mut rx, "the new target to be reported", |s| s.hotend.target == 215.0).await;
}

#[tokio::test]
async fn long_blocking_commands_are_not_mistaken_for_lost_oks() {
    // Real time: a 4 s dwell and heating answer only when done, with `busy:` every 2 s meanwhile.
    let sim = MarlinSim::new(SimConfig { speedup: 1.0, ..SimConfig::default() }, Faults::default());
    let dir = tempfile::tempdir().unwrap();
    let moves: Vec<String> = (0..20).map(|i| format!("G1 X{i}.5 F30000")).collect();
    let path = dir.path().join("dwell.gcode");
    std::fs::write(&path, format!("G4 P4000\n{}\n", moves.join("\n"))).unwrap();
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    let name = driver.upload(&path).await.unwrap().name;
    driver.start(&name).await.unwrap();
    let end = wait(&mut rx, "the end of the job", |s| {
        s.state != PrinterState::Printing && s.state != PrinterState::Finishing
    })
    .await;
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    assert_eq!(driver.stats().lost_oks, 0, "{:?}", driver.stats());
    assert_eq!(from_file(&sim, &moves), moves);
}

#[tokio::test]
async fn without_autoreport_temperatures_are_polled() {
    let sim = MarlinSim::new(
        SimConfig { speedup: f64::INFINITY, autoreport_temp: false, ..SimConfig::default() },
        Faults::default(),
    );
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, fast_options());
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    wait(&mut rx, "idle", |s| s.state == PrinterState::Idle).await;
    driver.send_gcode(&["M140 S55".into()]).await.unwrap();
    wait(&mut rx, "the polled bed target", |s| s.bed.target == 55.0).await;
    let log = sim.executed();
    assert!(log.iter().any(|c| c == "M105"), "{log:?}");
    assert!(!log.iter().any(|c| c.starts_with("M155")), "{log:?}");
    assert!(!rx.borrow().firmware.as_ref().unwrap().has("AUTOREPORT_TEMP"));
}
