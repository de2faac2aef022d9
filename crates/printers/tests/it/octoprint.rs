//! The OctoPrint driver against a real OctoPrint 1.11.8 (from PyPI, installed by `scripts/setup-test`
//! into `$PRINTFARM_PEERS_DIR/octoprint`, default `~/.cache/printfarm/peers/octoprint`) with its
//! bundled Virtual Printer, on 127.0.0.1 with every plugin that phones out switched off.

use crate::peers;

use std::path::PathBuf;
use std::time::Duration;

use peers::octoprint::{start_octoprint, KEY};
use printers::octoprint::{OctoPrintDriver, OctoPrintOptions};
use printers::{DriverError, PrinterDriver, PrinterState, PrinterStatus};
use tokio::sync::watch;

const LIMIT: Duration = Duration::from_secs(60);

async fn wait(
    rx: &mut watch::Receiver<PrinterStatus>,
    what: &str,
    want: impl FnMut(&PrinterStatus) -> bool,
) -> PrinterStatus {
    match tokio::time::timeout(LIMIT, printers::driver::wait_for(rx, want)).await {
        Ok(Some(s)) => s,
        _ => panic!("timed out waiting for {what}; last status {:?}", *rx.borrow()),
    }
}

fn job(dir: &std::path::Path, name: &str, dwells: usize) -> PathBuf {
    let mut text = String::from("G28\nG90\n");
    for i in 0..dwells {
        text.push_str(&format!("G1 X{i} Y{i} F6000\nG4 P150\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn upload_print_pause_resume_cancel_against_real_octoprint() {
    let octo = start_octoprint().await;
    let options = OctoPrintOptions { poll_interval: Duration::from_millis(200), ..OctoPrintOptions::default() };

    let bad = OctoPrintDriver::new(&octo.base, "WRONGKEY", options.clone()).unwrap();
    assert!(matches!(bad.connect().await, Err(DriverError::Refused(m)) if m.contains("API key")));

    // Found by probing, as a printer without mDNS would be.
    let probed = printers::discover::probe_http(&octo.base, Duration::from_secs(5)).await.unwrap();
    assert_eq!(probed.kind, printers::discover::ServiceKind::OctoPrint);

    let driver = OctoPrintDriver::new(&octo.base, KEY, options).unwrap();
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    let s = wait(&mut rx, "operational", |s| s.state == PrinterState::Idle).await;
    assert_eq!(s.firmware.unwrap().name, "OctoPrint 1.11.8");

    // A short job, printed to completion.
    let files = tempfile::tempdir().unwrap();
    let short = driver.upload(&job(files.path(), "short.gcode", 3)).await.unwrap();
    assert_eq!(short.name, "printfarm/short.gcode");
    driver.start(&short.name).await.unwrap();
    wait(&mut rx, "the short job to finish", |s| {
        s.state == PrinterState::Idle && s.file.as_deref() == Some("short.gcode") && s.progress == Some(1.0)
    })
    .await;

    // A longer one: pause, resume, finish.
    let long = driver.upload(&job(files.path(), "long.gcode", 40)).await.unwrap();
    driver.start(&long.name).await.unwrap();
    wait(&mut rx, "printing", |s| s.state == PrinterState::Printing && s.file.as_deref() == Some("long.gcode")).await;
    driver.pause().await.unwrap();
    wait(&mut rx, "paused", |s| s.state == PrinterState::Paused).await;
    driver.resume().await.unwrap();
    wait(&mut rx, "printing again", |s| s.state == PrinterState::Printing).await;
    wait(&mut rx, "the long job to finish", |s| s.state == PrinterState::Idle && s.progress == Some(1.0)).await;

    // Cancel part-way.
    driver.start(&long.name).await.unwrap();
    wait(&mut rx, "printing", |s| s.state == PrinterState::Printing && s.progress.is_some_and(|p| p < 1.0)).await;
    driver.cancel().await.unwrap();
    let s = wait(&mut rx, "cancelled", |s| s.state == PrinterState::Idle).await;
    assert!(s.progress.unwrap_or(0.0) < 1.0, "{s:?}");
    assert!(matches!(driver.cancel().await, Err(DriverError::Busy(_))), "cancel while idle is a 409");

    // Raw G-code reaches the printer.
    driver.send_gcode(&["M104 S205".into()]).await.unwrap();
    wait(&mut rx, "the new hotend target", |s| s.hotend.target == 205.0).await;
    driver.disconnect().await.unwrap();
}
