//! The Moonraker driver against a real Moonraker 0.11.0 (from PyPI, installed by `scripts/setup-test`
//! into `$PRINTFARM_PEERS_DIR/moonraker`) on 127.0.0.1. Moonraker needs Klipper's API socket to print;
//! `peers::klippy` stands in for it.

use crate::peers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use peers::klippy::{start_moonraker, Klippy};
use printers::moonraker::{MoonrakerDriver, MoonrakerOptions};
use printers::{PrinterDriver, PrinterState, PrinterStatus};
use serde_json::Value;
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

#[tokio::test]
async fn upload_print_pause_resume_cancel_against_real_moonraker() {
    let dir = tempfile::tempdir().unwrap();
    let klippy = Arc::new(Mutex::new(Klippy::new(dir.path().join("pd/gcodes"))));
    let moonraker = start_moonraker(klippy.clone(), dir).await;

    // Found by probing, as a printer without mDNS would be.
    let probed = printers::discover::probe_http(&moonraker.base, Duration::from_secs(5)).await.unwrap();
    assert_eq!(probed.kind, printers::discover::ServiceKind::Moonraker);
    assert!(probed.version.unwrap_or_default().contains("0.11.0"));

    let driver = MoonrakerDriver::new(&moonraker.base, MoonrakerOptions::default()).unwrap();
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    let s = wait(&mut rx, "ready", |s| s.state == PrinterState::Idle).await;
    let name = s.firmware.unwrap().name;
    assert!(name.starts_with("Moonraker ") && name.contains("0.11.0"), "{name}");

    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("cube.gcode");
    std::fs::write(&path, "G28\nG1 X10 Y10 F3000\nG1 X20 Y20\n".repeat(50)).unwrap();
    let remote = driver.upload(&path).await.unwrap();
    assert_eq!(remote.name, "printfarm/cube.gcode");

    driver.start(&remote.name).await.unwrap();
    let s = wait(&mut rx, "printing", |s| s.state == PrinterState::Printing).await;
    assert_eq!(s.file.as_deref(), Some("printfarm/cube.gcode"));
    assert_eq!(s.bytes.map(|b| b.total), Some(remote.size));
    driver.pause().await.unwrap();
    wait(&mut rx, "paused", |s| s.state == PrinterState::Paused).await;
    driver.resume().await.unwrap();
    wait(&mut rx, "printing again", |s| s.state == PrinterState::Printing).await;
    let s = wait(&mut rx, "complete", |s| s.state == PrinterState::Idle && s.progress == Some(1.0)).await;
    assert_eq!(s.message.as_deref(), Some("Finished printfarm/cube.gcode"));

    driver.start(&remote.name).await.unwrap();
    wait(&mut rx, "printing", |s| s.state == PrinterState::Printing).await;
    driver.cancel().await.unwrap();
    let s = wait(&mut rx, "cancelled", |s| s.state == PrinterState::Idle).await;
    assert!(s.message.as_deref().unwrap_or("").starts_with("Cancelled"), "{s:?}");

    driver.send_gcode(&["M104 S215".into()]).await.unwrap();
    wait(&mut rx, "the new target", |s| s.hotend.target == 215.0).await;
    assert!(klippy.lock().unwrap().scripts.iter().any(|s| s == "SDCARD_PRINT_FILE FILENAME=\"printfarm/cube.gcode\""));

    // Moonraker recorded both jobs in its history, as it would with Klipper.
    let history: Value =
        reqwest::get(format!("{}/server/history/list?limit=5", moonraker.base)).await.unwrap().json().await.unwrap();
    let statuses: Vec<&str> =
        history["result"]["jobs"].as_array().unwrap().iter().filter_map(|j| j["status"].as_str()).collect();
    assert!(statuses.contains(&"completed") && statuses.contains(&"cancelled"), "{history}");
    driver.disconnect().await.unwrap();
}
