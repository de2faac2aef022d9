//! Where the box may open connections on a person's say-so: printer addresses (OctoPrint, Moonraker,
//! Marlin over TCP), serial ports, hosts asked during discovery and the farm's webhook.
//!
//! Addresses are parsed the way the HTTP client will read them (so `2130706433`, `0x7f000001` and
//! `127.1` are all 127.0.0.1), names are resolved, and every address a name resolves to must be allowed:
//! loopback (the box itself), link-local (`169.254.0.0/16`, where cloud and router metadata services
//! live), unspecified, multicast and broadcast addresses are refused unless the box's configuration
//! allows local targets (`allow_local_network`). Serial ports must be character devices under `/dev`,
//! and a refusal never says whether some other file exists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path};

use serde_json::Value;

/// How long resolving a name may take before the address is refused.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the box may reach; from the configuration, the same for every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReachPolicy {
    /// Loopback and link-local addresses too (a printer host on the box itself; tests). Off by default.
    pub allow_local: bool,
}

/// Why an address was refused. Each message is a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    #[error("{0:?} is not a web address; type one like http://octopi.local")]
    NotAUrl(String),
    #[error("{0:?} is not an address like printer.local:23")]
    NotAHostPort(String),
    #[error(
        "{0} is this box itself or a link-local address, which printers and webhooks may not use; an \
         administrator can allow it with allow_local_network in printfarm.toml"
    )]
    Local(String),
    #[error("{0} is not an address a printer or webhook can have")]
    NotUnicast(String),
    #[error("the name {0:?} could not be found on the network; check the spelling")]
    Unresolved(String),
    #[error("serial ports are under /dev, like /dev/ttyUSB0 or /dev/serial/by-id/…; {0:?} is not one")]
    NotASerialPort(String),
}

impl ReachPolicy {
    /// Checks an `http://` or `https://` address; returns it parsed.
    pub async fn check_url(&self, url: &str) -> Result<reqwest::Url, ReachError> {
        let parsed = reqwest::Url::parse(url.trim()).map_err(|_| ReachError::NotAUrl(url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || parsed.password().is_some()
        {
            return Err(ReachError::NotAUrl(url.to_string()));
        }
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| ReachError::NotAUrl(url.to_string()))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        // The parser has already written every IPv4 spelling as four decimal numbers, and IPv6 in brackets.
        match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => self.check_ip(ip)?,
            Err(_) => self.check_name(host, port).await?,
        }
        Ok(parsed)
    }

    /// Checks a `host:port` address (Marlin over TCP). The host is read as a URL's host would be.
    pub async fn check_host_port(&self, address: &str) -> Result<(), ReachError> {
        let bad = || ReachError::NotAHostPort(address.to_string());
        let (host, port) = address.trim().rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        let url = reqwest::Url::parse(&format!("http://{host}:{port}/")).map_err(|_| bad())?;
        if url.host_str().is_none() || !url.username().is_empty() || url.path() != "/" {
            return Err(bad());
        }
        self.check_url(url.as_str()).await.map(|_| ()).map_err(|e| match e {
            ReachError::NotAUrl(_) => bad(),
            e => e,
        })
    }

    /// Checks one IP address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ReachError> {
        let ip = match ip {
            // `::ffff:127.0.0.1` is 127.0.0.1.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(ReachError::NotUnicast(ip.to_string()));
        }
        if is_local(ip) && !self.allow_local {
            return Err(ReachError::Local(ip.to_string()));
        }
        Ok(())
    }

    /// Resolves a name and checks every address it has (all of them: a client may use any).
    async fn check_name(&self, name: &str, port: u16) -> Result<(), ReachError> {
        let unresolved = || ReachError::Unresolved(name.to_string());
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
            .await
            .map_err(|_| unresolved())?
            .map_err(|_| unresolved())?;
        let addresses: Vec<SocketAddr> = lookup.collect();
        if addresses.is_empty() {
            return Err(unresolved());
        }
        for a in addresses {
            self.check_ip(a.ip()).map_err(|e| match e {
                ReachError::Local(ip) => ReachError::Local(format!("{name} ({ip})")),
                e => e,
            })?;
        }
        Ok(())
    }

    /// Checks where a printer's connection setting points: its `url` (OctoPrint, Moonraker), `tcp`
    /// (Marlin over the network) or serial `port` (Marlin over USB).
    pub async fn check_printer(&self, driver: &str, connection: &Value) -> Result<(), ReachError> {
        if driver == "simulated" {
            return Ok(());
        }
        let text = |k: &str| connection.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        if let Some(url) = text("url") {
            self.check_url(url).await?;
        }
        if let Some(address) = text("tcp") {
            self.check_host_port(address).await?;
        }
        if let Some(port) = text("port") {
            check_serial_path(port)?;
        }
        Ok(())
    }
}

/// Loopback, link-local and the IPv6 forms of them (unique-local and private ranges are the farm's LAN
/// and stay allowed).
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_loopback() || is_link_local_v6(v6),
    }
}

fn is_link_local_v6(v6: Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xffc0) == 0xfe80
}

/// A serial port path as typed: absolute, under `/dev`, without `..`. Says nothing about whether it exists.
pub fn check_serial_path(path: &str) -> Result<(), ReachError> {
    let refused = || ReachError::NotASerialPort(path.to_string());
    let p = Path::new(path);
    if !p.starts_with("/dev") || p == Path::new("/dev") || p.components().any(|c| c == Component::ParentDir) {
        return Err(refused());
    }
    Ok(())
}

/// Right before a serial port is opened: [`check_serial_path`], and (through links, such as
/// `/dev/serial/by-id/…`) a character device under `/dev`. What is wrong is said without the system's
/// own error, so nothing is learnt about files elsewhere.
pub fn check_serial_device(path: &str) -> Result<(), String> {
    check_serial_path(path).map_err(|e| e.to_string())?;
    let not_a_port = || format!("nothing that looks like a serial port is at {path}; check the cable and the name");
    let real = std::fs::canonicalize(path).map_err(|_| not_a_port())?;
    let is_char_device = std::fs::metadata(&real).map(|m| m.file_type().is_char_device()).unwrap_or(false);
    if !real.starts_with("/dev") || !is_char_device {
        return Err(not_a_port());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: ReachPolicy = ReachPolicy { allow_local: false };
    const LOCAL_ALLOWED: ReachPolicy = ReachPolicy { allow_local: true };

    #[tokio::test]
    async fn every_spelling_of_loopback_is_refused() {
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
        ] {
            let e = STRICT.check_url(url).await.unwrap_err();
            assert!(matches!(e, ReachError::Local(_) | ReachError::NotUnicast(_)), "{url}: {e}");
        }
        for address in ["localhost:23", "127.0.0.1:23", "2130706433:23", "[::1]:23"] {
            assert!(STRICT.check_host_port(address).await.is_err(), "{address}");
        }
        LOCAL_ALLOWED.check_url("http://127.0.0.1:5000").await.unwrap();
        LOCAL_ALLOWED.check_host_port("127.0.0.1:23").await.unwrap();
    }

    #[tokio::test]
    async fn lan_addresses_pass_and_nonsense_is_refused() {
        STRICT.check_url("http://192.168.1.20:7125").await.unwrap();
        STRICT.check_url("https://10.0.0.7/").await.unwrap();
        STRICT.check_host_port("192.168.1.30:23").await.unwrap();
        for bad in ["file:///etc/passwd", "ftp://10.0.0.1/", "http://user:pw@10.0.0.1/", "octopi.local"] {
            assert!(matches!(STRICT.check_url(bad).await, Err(ReachError::NotAUrl(_))), "{bad}");
        }
        for bad in ["10.0.0.1", "10.0.0.1:0", "10.0.0.1:99999", ":23", "10.0.0.1/x:23"] {
            assert!(STRICT.check_host_port(bad).await.is_err(), "{bad}");
        }
    }

    #[test]
    fn serial_ports_are_under_dev_only() {
        check_serial_path("/dev/ttyUSB0").unwrap();
        check_serial_path("/dev/serial/by-id/usb-Prusa_MK3-if00").unwrap();
        for bad in ["/etc/shadow", "/dev/../etc/shadow", "ttyUSB0", "/dev", "/devices/x", "/tmp/dev/ttyUSB0"] {
            assert!(check_serial_path(bad).is_err(), "{bad}");
        }
        // The same answer whether or not the file exists.
        let a = check_serial_device("/etc/shadow").unwrap_err();
        let b = check_serial_device("/etc/no-such-file").unwrap_err();
        assert_eq!(a.replace("/etc/shadow", "X"), b.replace("/etc/no-such-file", "X"));
        // A file under /dev that is not a character device is not a port.
        assert!(check_serial_device("/dev/shm").is_err());
        check_serial_device("/dev/null").unwrap();
    }
}
