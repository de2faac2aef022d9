//! mDNS discovery against a service this test announces itself, on loopback only.

use std::time::Duration;

use printers::discover::{browse_mdns, mdns_daemon, MdnsScope, ServiceKind};

#[tokio::test]
async fn an_announced_octoprint_is_found_with_its_txt_records() {
    let announcer = mdns_daemon(MdnsScope::Loopback).unwrap();
    // A unique name, so parallel runs on one machine cannot see each other's announcement.
    let instance = format!("Printfarm test {}", std::process::id());
    let txt = [("path", "/octo/"), ("version", "1.11.8"), ("api", "0.1"), ("uuid", "5d6c1e2a-test")];
    let info = mdns_sd::ServiceInfo::new(
        ServiceKind::OctoPrint.service_type(),
        &instance,
        "printfarm-test.local.",
        "127.0.0.1",
        5123,
        &txt[..],
    )
    .unwrap();
    announcer.register(info).unwrap();

    let found =
        browse_mdns(&[ServiceKind::OctoPrint, ServiceKind::Moonraker], Duration::from_secs(4), MdnsScope::Loopback)
            .await
            .unwrap();
    let _ = announcer.shutdown();
    let ours = found.iter().find(|c| c.name == instance).unwrap_or_else(|| panic!("not found among {found:?}"));
    assert_eq!(ours.kind, ServiceKind::OctoPrint);
    assert_eq!(ours.port, 5123);
    assert_eq!(ours.path.as_deref(), Some("/octo/"));
    assert_eq!(ours.version.as_deref(), Some("1.11.8"));
    assert_eq!(ours.uuid.as_deref(), Some("5d6c1e2a-test"));
    assert_eq!(ours.url(), "http://127.0.0.1:5123/octo/");
}
