//! Finding printers: serial ports with a known printer USB bridge (probed with `M115` only when no
//! one else has the port open), and OctoPrint, Moonraker and plain HTTP printers announced over
//! mDNS. Discovery only lists candidates; adding one to the farm is the user's decision.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::marlin::protocol::{parse_firmware, Response};
use crate::FirmwareInfo;

/// USB-serial bridges that printer boards use, by vendor (and, for generic chips, product) id.
pub const PRINTER_BRIDGES: &[(u16, Option<u16>, &str)] = &[
    (0x2c99, None, "Prusa Research"),
    (0x2341, None, "Arduino"),
    (0x1a86, Some(0x7523), "CH340"),
    (0x0403, Some(0x6001), "FTDI FT232R"),
    (0x0483, Some(0x5740), "STM32 virtual COM port"),
];

/// The bridge a USB id belongs to, if it is one printers use.
pub fn known_bridge(vid: u16, pid: u16) -> Option<&'static str> {
    PRINTER_BRIDGES.iter().find(|(v, p, _)| *v == vid && p.is_none_or(|p| p == pid)).map(|(_, _, name)| *name)
}

/// Errors from discovery.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot list serial ports: {0}")]
    Ports(#[from] serialport::Error),
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
}

/// A serial port that may have a printer behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SerialCandidate {
    pub path: String,
    pub vid: Option<u16>,
    pub pid: Option<u16>,
    /// The recognised bridge, e.g. `CH340`; `None` for unknown USB ids and non-USB ports.
    pub bridge: Option<&'static str>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
    /// Another process has the port open (perhaps printing): it was not opened, let alone probed.
    pub in_use: bool,
    /// What answered `M115`, and at which baud rate.
    pub probe: Option<Probe>,
}

/// A firmware that answered on a port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub baud: u32,
    pub firmware: FirmwareInfo,
}

/// USB serial ports, with those on a known printer bridge first. Nothing is opened.
pub fn serial_ports() -> Result<Vec<SerialCandidate>, DiscoveryError> {
    let mut out: Vec<SerialCandidate> = serialport::available_ports()?
        .into_iter()
        .filter_map(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(u) => Some(SerialCandidate {
                bridge: known_bridge(u.vid, u.pid),
                in_use: port_in_use(Path::new(&p.port_name)),
                path: p.port_name,
                vid: Some(u.vid),
                pid: Some(u.pid),
                manufacturer: u.manufacturer,
                product: u.product,
                serial_number: u.serial_number,
                probe: None,
            }),
            // Built-in UARTs and Bluetooth are almost never printers; listing them is noise.
            _ => None,
        })
        .collect();
    out.sort_by_key(|c| (c.bridge.is_none(), c.path.clone()));
    Ok(out)
}

/// Whether another process holds `device` open, found by reading `/proc/*/fd`. Opening a port
/// toggles DTR, which resets most boards, so a port some other host is printing through must not be
/// touched. This process is skipped: the farm knows which ports its own drivers hold.
pub fn port_in_use(device: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(device) else { return false };
    let Ok(procs) = std::fs::read_dir("/proc") else { return false };
    let me = std::process::id().to_string();
    // Only numeric entries are processes; `self` and `thread-self` are this one again.
    let others = procs.flatten().filter(|p| {
        let name = p.file_name();
        let name = name.to_string_lossy();
        name.bytes().all(|b| b.is_ascii_digit()) && name != me.as_str()
    });
    others.into_iter().any(|p| {
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { return false };
        fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target))
    })
}

/// Asks the firmware on `path` for `M115` at each baud rate in turn; `None` if nothing answered or
/// the port is in use. Boards that reset on open get time to boot before the first question.
pub async fn probe_serial(path: &str, bauds: &[u32], per_baud: Duration) -> Option<Probe> {
    if port_in_use(Path::new(path)) {
        return None;
    }
    for &baud in bauds {
        let Ok(port) = tokio_serial::SerialStream::open(&tokio_serial::new(path, baud)) else { return None };
        if let Ok(Some(firmware)) = tokio::time::timeout(per_baud, ask_m115(port)).await {
            return Some(Probe { baud, firmware });
        }
    }
    None
}

/// Sends `M115` every half second until a `FIRMWARE_NAME` line and its `ok` come back.
async fn ask_m115<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(io: S) -> Option<FirmwareInfo> {
    let (rd, mut wr) = tokio::io::split(io);
    let mut lines = BufReader::new(rd);
    let mut found: Option<FirmwareInfo> = None;
    let mut buf = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick(), if found.is_none() => {
                wr.write_all(b"M115\n").await.ok()?;
            }
            n = lines.read_until(b'\n', &mut buf) => {
                if n.ok()? == 0 {
                    return found;
                }
                let line = String::from_utf8_lossy(&buf).trim().to_string();
                buf.clear();
                if line.starts_with("FIRMWARE_NAME:") {
                    found = Some(parse_firmware(&line));
                } else if let (Some(fw), Response::Capability(name, true)) = (found.as_mut(), Response::parse(&line)) {
                    fw.capabilities.push(name);
                } else if found.is_some() && matches!(Response::parse(&line), Response::Ok { .. }) {
                    return found;
                }
            }
        }
    }
}

/// What kind of service announced itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    OctoPrint,
    Moonraker,
    /// `_http._tcp`: OctoPrint announces itself here too, and so do Duet and PrusaLink boards.
    Http,
}

impl ServiceKind {
    /// The DNS-SD service type this kind is browsed under.
    pub fn service_type(self) -> &'static str {
        match self {
            Self::OctoPrint => "_octoprint._tcp.local.",
            Self::Moonraker => "_moonraker._tcp.local.",
            Self::Http => "_http._tcp.local.",
        }
    }
}

/// A network service that may be a printer host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkCandidate {
    pub kind: ServiceKind,
    /// The instance name, e.g. `OctoPrint instance on farmpi`.
    pub name: String,
    pub host: String,
    pub addresses: Vec<std::net::IpAddr>,
    pub port: u16,
    /// TXT `path` (OctoPrint's base URL path), `version`, `uuid`; all TXT records are in `txt`.
    pub path: Option<String>,
    pub version: Option<String>,
    pub uuid: Option<String>,
    pub txt: BTreeMap<String, String>,
}

impl NetworkCandidate {
    /// The base URL to reach the service at, preferring an IPv4 address.
    pub fn url(&self) -> String {
        let addr = self.addresses.iter().find(|a| a.is_ipv4()).or(self.addresses.first());
        let host = match addr {
            Some(std::net::IpAddr::V6(a)) => format!("[{a}]"),
            Some(a) => a.to_string(),
            None => self.host.trim_end_matches('.').to_string(),
        };
        let path = self.path.as_deref().unwrap_or("/");
        format!("http://{host}:{}{path}", self.port)
    }
}

/// Asks `base` (e.g. `http://10.0.0.7` or `http://10.0.0.7:7125`) what it is, for printers that
/// do not announce themselves: OctoPrint and PrusaLink answer `GET /api/version` (OctoPrint even
/// without a key, as a 403 with its own error), Moonraker answers `GET /server/info`.
pub async fn probe_http(base: &str, timeout: Duration) -> Option<NetworkCandidate> {
    let base = base.trim_end_matches('/');
    let http =
        reqwest::Client::builder().timeout(timeout).redirect(crate::driver::same_origin_redirects()).build().ok()?;
    let url = reqwest::Url::parse(base).ok()?;
    let candidate = |kind, name: String, version: Option<String>| NetworkCandidate {
        kind,
        name,
        host: url.host_str().unwrap_or_default().to_string(),
        addresses: url.host_str().and_then(|h| h.trim_matches(['[', ']']).parse().ok()).into_iter().collect(),
        port: url.port_or_known_default().unwrap_or(80),
        path: Some(url.path().to_string()),
        version,
        uuid: None,
        txt: BTreeMap::new(),
    };
    if let Ok(r) = http.get(format!("{base}/server/info")).send().await {
        if let Ok(v) = r.json::<serde_json::Value>().await {
            if let Some(version) = v["result"]["moonraker_version"].as_str() {
                return Some(candidate(ServiceKind::Moonraker, format!("Moonraker at {base}"), version_token(version)));
            }
        }
    }
    let r = http.get(format!("{base}/api/version")).send().await.ok()?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    let text = v["text"].as_str().unwrap_or_default();
    // Only our own words and a version number go back: what a server at an address someone typed says
    // is not repeated, so discovery cannot be used to read other machines' pages.
    let server_version = v["server"].as_str().and_then(version_token);
    if text.starts_with("OctoPrint") {
        return Some(candidate(ServiceKind::OctoPrint, format!("OctoPrint at {base}"), server_version));
    }
    if status == reqwest::StatusCode::FORBIDDEN && v.get("error").is_some() {
        // OctoPrint without a key: it says so in its own JSON error.
        return Some(candidate(ServiceKind::OctoPrint, format!("OctoPrint at {base} (needs an API key)"), None));
    }
    if !text.is_empty() {
        return Some(candidate(ServiceKind::Http, format!("A printer web page at {base}"), server_version));
    }
    None
}

/// The version number a server reported (`1.10.2`, `v0.9.3-12-gabc`; its first word), or nothing if that
/// is not one.
fn version_token(v: &str) -> Option<String> {
    let v = v.split_whitespace().next().unwrap_or_default();
    let ok = !v.is_empty()
        && v.len() <= 40
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    ok.then(|| v.to_string())
}

/// Which interfaces mDNS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdnsScope {
    /// Every interface but loopback: the farm's LAN.
    Lan,
    /// 127.0.0.1 only, so tests make no traffic outside the machine.
    Loopback,
}

/// Starts an mDNS daemon on `scope`'s interfaces.
pub fn mdns_daemon(scope: MdnsScope) -> Result<mdns_sd::ServiceDaemon, DiscoveryError> {
    let daemon = mdns_sd::ServiceDaemon::new()?;
    if scope == MdnsScope::Loopback {
        daemon.disable_interface(mdns_sd::IfKind::All)?;
        daemon.enable_interface(mdns_sd::IfKind::LoopbackV4)?;
    }
    Ok(daemon)
}

/// Browses mDNS for `kinds` for `window`, returning each resolved instance once, sorted by name.
pub async fn browse_mdns(
    kinds: &[ServiceKind],
    window: Duration,
    scope: MdnsScope,
) -> Result<Vec<NetworkCandidate>, DiscoveryError> {
    let daemon = mdns_daemon(scope)?;
    let mut found: BTreeMap<String, NetworkCandidate> = BTreeMap::new();
    let receivers =
        kinds.iter().map(|&k| Ok((k, daemon.browse(k.service_type())?))).collect::<Result<Vec<_>, mdns_sd::Error>>()?;
    let deadline = tokio::time::Instant::now() + window;
    let mut events = futures_merge(receivers);
    while let Ok(Some((kind, event))) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let mdns_sd::ServiceEvent::ServiceResolved(info) = event {
            let txt: BTreeMap<String, String> =
                info.get_properties().iter().map(|p| (p.key().to_string(), p.val_str().to_string())).collect();
            let name = info.get_fullname().trim_end_matches(info.get_type()).trim_end_matches('.').to_string();
            let mut addresses: Vec<_> = info.get_addresses().iter().copied().collect();
            addresses.sort();
            found.insert(
                format!("{kind:?}/{}", info.get_fullname()),
                NetworkCandidate {
                    kind,
                    name,
                    host: info.get_hostname().to_string(),
                    addresses,
                    port: info.get_port(),
                    path: txt.get("path").cloned(),
                    version: txt.get("version").cloned(),
                    uuid: txt.get("uuid").cloned(),
                    txt,
                },
            );
        }
    }
    // Shutting down sends goodbyes for nothing (we registered nothing) and stops the daemon thread.
    let _ = daemon.shutdown();
    let mut list: Vec<_> = found.into_values().collect();
    list.sort_by(|a, b| a.name.cmp(&b.name).then(a.port.cmp(&b.port)));
    Ok(list)
}

/// Forwards several mDNS receivers into one channel, tagging each event with its kind.
fn futures_merge(
    receivers: Vec<(ServiceKind, mdns_sd::Receiver<mdns_sd::ServiceEvent>)>,
) -> tokio::sync::mpsc::UnboundedReceiver<(ServiceKind, mdns_sd::ServiceEvent)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for (kind, r) in receivers {
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(ev) = r.recv_async().await {
                if tx.send((kind, ev)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_numbers_are_repeated() {
        assert_eq!(version_token("1.10.2").as_deref(), Some("1.10.2"));
        assert_eq!(version_token(" v0.11.0-12-gabc (PyPI)").as_deref(), Some("v0.11.0-12-gabc"));
        for said in ["<script>alert(1)</script>", "admin password is hunter2", "", "latest"] {
            assert_eq!(version_token(said), None, "{said}");
        }
    }

    #[test]
    fn printer_bridges_are_recognised() {
        assert_eq!(known_bridge(0x1a86, 0x7523), Some("CH340"));
        assert_eq!(known_bridge(0x2c99, 0x0002), Some("Prusa Research"));
        assert_eq!(known_bridge(0x0483, 0x5740), Some("STM32 virtual COM port"));
        assert_eq!(known_bridge(0x0403, 0x6015), None, "FT231X is not in the table");
        assert_eq!(known_bridge(0x046d, 0xc52b), None);
    }

    #[tokio::test]
    async fn m115_probe_reads_the_firmware_and_skips_ports_in_use() {
        use crate::sim::marlin::{Faults, MarlinSim, SimConfig};
        let sim = MarlinSim::new(SimConfig { speedup: f64::INFINITY, ..SimConfig::default() }, Faults::default());
        let pty = sim.serve_pty().unwrap();
        let path = pty.path.display().to_string();
        let probe = probe_serial(&path, &[115_200, 250_000], Duration::from_secs(10)).await.unwrap();
        assert_eq!(probe.baud, 115_200);
        assert!(probe.firmware.name.starts_with("Marlin"), "{probe:?}");
        assert!(probe.firmware.has("AUTOREPORT_TEMP"));
        // While another program (here `sleep`, standing in for OctoPrint) holds it, discovery keeps off.
        let port = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let mut other = std::process::Command::new("sleep").arg("30").stdin(port).spawn().unwrap();
        assert!(port_in_use(&pty.path));
        let before = sim.executed().len();
        assert_eq!(probe_serial(&path, &[115_200], Duration::from_secs(1)).await, None);
        assert_eq!(sim.executed().len(), before, "nothing was sent to a port in use");
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
