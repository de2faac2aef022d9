//! A real OctoPrint 1.11.8 (from the peers venv) with its Virtual Printer on 127.0.0.1, an admin API key
//! and every plugin that phones out switched off. Shared by the OctoPrint driver's tests and the farm's
//! restart test.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::Duration;

/// The admin's API key.
pub const KEY: &str = "PRINTFARMTESTKEY0123456789ABCDEF";
/// How long OctoPrint may take to connect its Virtual Printer.
const READY_LIMIT: Duration = Duration::from_secs(90);

/// A running OctoPrint; stopped when dropped.
pub struct OctoPrint {
    _process: super::Process,
    pub base: String,
    pub dir: tempfile::TempDir,
}

/// Starts OctoPrint and waits until its Virtual Printer is operational.
pub async fn start_octoprint() -> OctoPrint {
    let bin = super::installed("OctoPrint", "octoprint==1.11.8", "octoprint");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "server:\n  host: 127.0.0.1\n  port: {port}\n  firstRun: false\n  onlineCheck: {{enabled: false}}\n  \
             pluginBlacklist: {{enabled: false}}\n  pythonEolCheck: {{enabled: false}}\n\
             serial:\n  port: VIRTUAL\n  baudrate: 115200\n  autoconnect: true\n\
             plugins:\n  _disabled: [discovery, announcements, softwareupdate, tracking, errortracking, pluginmanager, \
             health_check, pi_support, firmware_check, file_check, backup, achievements]\n  virtual_printer:\n    enabled: true\n"
        ),
    )
    .unwrap();
    let added = Command::new(&bin)
        .arg("--basedir")
        .arg(dir.path())
        .args(["user", "add", "--password", "test1234", "--admin", "admin"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let users = dir.path().join("users.yaml");
    let text = std::fs::read_to_string(&users).unwrap().replace("apikey: null", &format!("apikey: {KEY}"));
    std::fs::write(&users, text).unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let child = Command::new(&bin)
        .arg("--basedir")
        .arg(dir.path())
        .args(["serve", "--iknowwhatimdoing"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let octo = OctoPrint { _process: super::Process(child), base: format!("http://127.0.0.1:{port}"), dir };
    // Ready once the virtual printer is connected.
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_LIMIT;
    loop {
        let r = http.get(format!("{}/api/connection", octo.base)).header("X-Api-Key", KEY).send().await;
        if let Ok(r) = r {
            if r.text().await.unwrap_or_default().contains("\"Operational\"") {
                break;
            }
        }
        let log = std::fs::read_to_string(octo.dir.path().join("serve.log")).unwrap_or_default();
        assert!(tokio::time::Instant::now() < deadline, "OctoPrint did not become operational:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    octo
}
