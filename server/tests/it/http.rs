//! The whole server in-process: real SQLite file, real HTTP and WebSocket on a loopback port.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use app::wire::{FarmEvent, PrinterView};
use futures::StreamExt;
use server::config::{Config, DemoConfig};
use server::http::{serve_on, ServeError};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
    handle: JoinHandle<Result<(), ServeError>>,
    /// Signed in as the test's admin (an API key).
    http: reqwest::Client,
    key: String,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("server stops within 15 s")
            .unwrap()
            .unwrap();
    }
}

async fn start(data_dir: &Path, printers: u32) -> Running {
    let site = data_dir.join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/printfarm.css"), "body{}").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        listen: addr,
        data_dir: data_dir.to_path_buf(),
        site_root: site,
        log: "warn".into(),
        log_format: Default::default(),
        demo: DemoConfig { enabled: true, printers, speed: 300.0 },
        // The networked Marlin board of these tests listens on 127.0.0.1.
        allow_local_network: true,
        ..Config::default()
    };
    let key = common::admin_key(data_dir).await;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(serve_on(config, listener, shutdown.clone()));
    Running { addr, shutdown, handle, http: common::client_with(&key), key }
}

#[tokio::test]
async fn health_api_pages_and_static_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 3).await;
    let http = server.http.clone();

    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["printers"], 3);

    let printers: Vec<PrinterView> =
        http.get(server.url("/api/v1/printers")).send().await.unwrap().json().await.unwrap();
    assert_eq!(printers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Ada", "Babbage", "Curie"]);
    assert!(printers.iter().all(|p| p.driver == "simulated"));

    let page = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<nav"), "the app shell renders");
    assert!(html.contains(r#"data-testid="printer-card""#), "printers are server-rendered");
    assert!(html.contains("Babbage"));
    assert!(html.contains("/pkg/printfarm.wasm"), "the page loads the hydration bundle by its real name");

    for path in
        ["/queue", "/create", "/library", "/printers", "/settings", "/login", "/jobs/7", "/printers/2", "/editor/7"]
    {
        assert_eq!(http.get(server.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    let missing = http.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Not found"));

    let css = http.get(server.url("/pkg/printfarm.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    server.stop().await;
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event, `None` when the server closed the stream.
async fn next(ws: &mut Socket) -> Option<FarmEvent> {
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an event within 10 s") {
        Some(Ok(Message::Text(t))) => Some(serde_json::from_str::<FarmEvent>(&t).expect("valid event JSON")),
        Some(Ok(Message::Close(_))) | None => None,
        other => panic!("unexpected frame {other:?}"),
    }
}

#[tokio::test]
async fn event_stream_sends_a_snapshot_then_live_changes_and_closes_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 2).await;
    let mut ws = common::events_at(server.addr, &server.key).await;

    match next(&mut ws).await {
        Some(FarmEvent::Snapshot { printers }) => assert_eq!(printers.len(), 2),
        other => panic!("first event must be a snapshot, got {other:?}"),
    }
    // The demo farm's jobs are sliced and sent to the simulated printers, which heat and print at 300x.
    let (mut printer_updates, mut job_updates) = (0, 0);
    while printer_updates < 3 || job_updates < 2 {
        match next(&mut ws).await {
            Some(FarmEvent::Printer { printer }) => {
                assert!(["Ada", "Babbage"].contains(&printer.name.as_str()));
                printer_updates += 1;
            }
            Some(FarmEvent::Job { job }) => {
                assert!(["Calibration cube", "Pencil cup"].contains(&job.name.as_str()), "{job:?}");
                job_updates += 1;
            }
            Some(FarmEvent::Queue | FarmEvent::Notification { .. }) => {}
            other => panic!("expected printer and job updates, got {other:?}"),
        }
    }
    // Shutting down with a browser still connected must not hang.
    server.stop().await;
    let mut closed = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if matches!(frame, Ok(Message::Close(_)) | Err(_)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "the stream is closed on shutdown");
}

#[tokio::test]
async fn restart_keeps_the_farm_and_does_not_duplicate_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), 4).await;
    let before: Vec<PrinterView> =
        first.http.get(first.url("/api/v1/printers")).send().await.unwrap().json().await.unwrap();
    first.stop().await;

    let second = start(dir.path(), 4).await;
    let after: Vec<PrinterView> =
        second.http.get(second.url("/api/v1/printers")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        before.iter().map(|p| (p.id, &p.name)).collect::<Vec<_>>(),
        after.iter().map(|p| (p.id, &p.name)).collect::<Vec<_>>()
    );
    second.stop().await;
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = Config { listen: taken.local_addr().unwrap(), data_dir: dir.path().into(), ..Config::default() };
    let err = server::http::serve(config, CancellationToken::new()).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot listen on 127.0.0.1:"), "{err}");
}

#[tokio::test]
async fn a_configured_marlin_printer_shows_its_live_status() {
    use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
    // A simulated Marlin board on a TCP port, as an ESP3D or ser2net bridge would present one.
    let sim = MarlinSim::new(SimConfig { speedup: f64::INFINITY, ..SimConfig::default() }, Faults::default());
    let board = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let board_addr = board.local_addr().unwrap().to_string();
    let s = sim.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = board.accept().await {
            let s = s.clone();
            tokio::spawn(async move { s.serve(sock).await });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let db = server::db::Db::open(dir.path()).await.unwrap();
    db.printers()
        .insert(&server::db::NewPrinter {
            name: "Bench Marlin".into(),
            driver: "marlin".into(),
            connection: serde_json::json!({ "tcp": board_addr }),
            build_mm: [220.0, 220.0, 250.0],
            nozzle_mm: 0.4,
            firmware: "marlin2".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    db.close().await;

    let server = start(dir.path(), 0).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let printer = loop {
        let list: Vec<PrinterView> =
            server.http.get(server.url("/api/v1/printers")).send().await.unwrap().json().await.unwrap();
        assert_eq!(list.len(), 1, "no demo printers next to a configured one");
        if list[0].state == app::wire::PrinterStateView::Idle {
            break list[0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "never became idle: {:?}", list[0]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(printer.driver, "marlin");
    assert!(sim.executed().iter().any(|c| c == "M115"), "the farm's driver did the handshake");
    server.stop().await;
}

#[tokio::test]
async fn readiness_and_prometheus_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 2).await;
    let http = server.http.clone();
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["ready"], true);
    let missing = http.get(server.url("/api/v1/jobs/999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // The demo farm's jobs are sliced soon after start.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let text = loop {
        let r = http.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = r.text().await.unwrap();
        let sliced =
            text.lines().any(|l| l.starts_with("printfarm_slice_duration_seconds_count ") && !l.ends_with(" 0"));
        if sliced || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let value = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("printfarm_http_responses_total{class=\"2xx\"}") >= 1.0);
    assert!(value("printfarm_http_responses_total{class=\"4xx\"}") >= 1.0, "the 404 was counted");
    assert!(value("printfarm_http_request_duration_seconds_count") >= 2.0);
    assert!(value("printfarm_slice_duration_seconds_count") >= 1.0, "slicing times are recorded");
    for engine in ["procedural", "shap_e"] {
        let series = format!("printfarm_generation_duration_seconds_count{{engine=\"{engine}\"}}");
        assert!(value(&series) >= 0.0);
    }
    let printers: f64 = text
        .lines()
        .filter(|l| l.starts_with("printfarm_printers{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(printers, 2.0, "every printer is counted in one state");
    assert!(text.lines().any(|l| l.starts_with("printfarm_jobs{state=")), "{text}");
    server.stop().await;
}

/// `log_format = "json"`: every log line is one JSON object, and each request gets an access-log line with
/// its method, path (no query), status, time and who asked.
#[tokio::test]
async fn json_logs_carry_one_access_line_per_request() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let key = common::admin_key(dir.path()).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_printfarm"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env("PRINTFARM_DEMO", "false")
        .env("PRINTFARM_LOG", "info")
        .env("PRINTFARM_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let next = |lines: &mut Vec<String>| {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the server keeps logging");
        lines.push(line.clone());
        line
    };
    while !next(&mut lines).contains("listening") {}
    let http = common::client_with(&key);
    let r = http.get(format!("http://127.0.0.1:{port}/api/v1/queue?secret=hidden")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let access = loop {
        let line = next(&mut lines);
        if line.contains("/api/v1/queue") {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{line}");
    }
    let v: serde_json::Value = serde_json::from_str(&access).unwrap();
    assert_eq!(v["method"], "GET", "{access}");
    assert_eq!(v["path"], "/api/v1/queue", "the query is not logged: {access}");
    assert_eq!(v["status"], 200, "{access}");
    assert_eq!(v["user"], "root", "{access}");
    assert!(v["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{access}");
    assert!(!access.contains("hidden"));
}
