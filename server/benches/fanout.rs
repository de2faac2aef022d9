//! Event-stream fan-out benchmark (on demand, not part of the test suite).
//!
//! Requirement: the event stream fans out to 500 connected browsers with status updates at 2 Hz per
//! printer for 100 printers without falling behind (lag under 100 ms at the 99th percentile).
//!
//! The whole server runs in-process on `127.0.0.1:0` (its own Tokio runtime, threads named
//! `fanout-server`) with a temporary data directory and no demo printers. `FANOUT_CLIENTS` WebSocket
//! clients (a second runtime, threads named `fanout-client`) connect to `/api/v1/events`; once every
//! one has its snapshot, a producer on the server runtime broadcasts `FarmEvent::Printer` status
//! updates for `FANOUT_PRINTERS` printers at `FANOUT_HZ` each, evenly spread, for `FANOUT_SECONDS`.
//! Each event carries its sequence number and send time in `message`; clients record lag = receive
//! time - send time (one monotonic clock), count gaps and count resync snapshots (a client that fell
//! more than the broadcast backlog behind).
//!
//! ```text
//! cargo bench -p server --bench fanout
//! FANOUT_SECONDS=10 FANOUT_CLIENTS=500 FANOUT_PRINTERS=100 FANOUT_HZ=2 cargo bench -p server --bench fanout
//! ```
//!
//! Other knobs: `FANOUT_SERVER_THREADS`, `FANOUT_CLIENT_THREADS` (Tokio workers; default: the number
//! of CPUs each), `FANOUT_P99_MS` (target, default 100). Needs about two file descriptors per client
//! (`ulimit -n`); the clients share the machine with the server, so figures are pessimistic.
//! Exits non-zero when a target is missed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use app::wire::{FarmEvent, PrinterStateView, PrinterView, TempView};
use futures::StreamExt;
use server::config::DemoConfig;
use server::db::Db;
use server::farm::Farm;
use server::http::{router, AppState};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Marker in `PrinterView::message`: `probe <seq> <nanos since EPOCH>`.
const PROBE: &str = "probe ";
/// Connections opened at once.
const CONNECT_CONCURRENCY: usize = 64;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now_nanos() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

#[derive(Clone, Copy)]
struct Params {
    clients: usize,
    printers: u32,
    hz: f64,
    seconds: f64,
    p99_target_ms: f64,
}

impl Params {
    fn total_events(&self) -> u64 {
        (self.seconds * self.printers as f64 * self.hz).round() as u64
    }
    fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / (self.printers as f64 * self.hz))
    }
}

/// What one client saw.
#[derive(Default)]
struct ClientResult {
    connected: bool,
    /// Printer events received.
    received: u64,
    /// Sequence numbers skipped.
    gaps: u64,
    /// Sequence numbers seen out of order or twice.
    disorder: u64,
    /// Snapshots after the first one: the server resynced a lagging client.
    resyncs: u64,
    /// Lag per printer event, microseconds.
    lags_us: Vec<u32>,
    error: Option<String>,
}

struct Server {
    addr: SocketAddr,
    /// An admin's API key: the event stream needs a signed-in caller.
    key: String,
    farm: Farm,
    db: Db,
    shutdown: CancellationToken,
    handle: JoinHandle<std::io::Result<()>>,
}

/// The server as `serve_on` runs it, but keeping the farm so the bench can broadcast on it.
async fn start_server(data_dir: &Path) -> anyhow::Result<Server> {
    let site = data_dir.join("site");
    std::fs::create_dir_all(site.join("pkg"))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let db = Db::open(data_dir).await?;
    let demo = DemoConfig { enabled: false, printers: 0, speed: 1.0 };
    let vault = std::sync::Arc::new(server::secrets::Vault::open(data_dir)?);
    let farm = Farm::start(&db, data_dir, vault, &demo, shutdown.clone()).await?;
    let mut leptos = leptos::config::get_configuration(None).map_err(|e| anyhow::anyhow!("{e}"))?.leptos_options;
    leptos.site_addr = addr;
    leptos.site_root = site.to_string_lossy().as_ref().into();
    let generator = server::generate::Generator::start(
        db.clone(),
        data_dir,
        genai::engine::Engine::procedural_only(),
        shutdown.clone(),
    )
    .await?;
    let auth = server::auth::Auth::new(db.clone()).await?;
    let admin = auth.create_user("bench", "", server::db::Role::Admin, Some("bench-password"), None).await?;
    let (_, key) = auth.create_key(&admin, "fanout bench", None).await?;
    let state = AppState { leptos, db: db.clone(), farm: farm.clone(), generator, shutdown: shutdown.clone(), auth };
    let serve = axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let handle = tokio::spawn(async move { serve.await });
    Ok(Server { addr, key, farm, db, shutdown, handle })
}

fn template(id: u32) -> PrinterView {
    PrinterView {
        id: i64::from(id) + 1,
        name: format!("Printer {:03}", id + 1),
        driver: "marlin".into(),
        tags: vec!["pla".into(), "0.4 mm".into()],
        state: PrinterStateView::Printing,
        hotend: TempView { actual: 209.6, target: 210.0 },
        bed: TempView { actual: 59.8, target: 60.0 },
        progress: Some(0.0),
        current_layer: Some(1),
        total_layers: Some(240),
        file: Some("benchy_0.2mm_PLA.gcode".into()),
        remaining_s: Some(3600),
        message: None,
        bed_clear: false,
        enabled: true,
        maintenance: false,
        job_id: Some(i64::from(id) + 1000),
        job_name: Some(format!("job {}", id + 1000)),
        material: Some("PLA · Red · 640 g left".into()),
    }
}

fn event(templates: &[PrinterView], seq: u64, nanos: u64) -> FarmEvent {
    let mut printer = templates[(seq % templates.len() as u64) as usize].clone();
    let step = seq / templates.len() as u64;
    printer.progress = Some((step % 1000) as f32 / 1000.0);
    printer.current_layer = Some((step % 240) as u32 + 1);
    printer.remaining_s = Some(3600u32.saturating_sub(step as u32));
    printer.hotend.actual = 209.0 + (seq % 10) as f32 / 10.0;
    printer.message = Some(format!("{PROBE}{seq} {nanos}"));
    FarmEvent::Printer { printer }
}

/// Sends `total` events evenly spread at `period`; returns how late each send was against its
/// schedule (microseconds).
async fn produce(farm: Farm, params: Params) -> Vec<u32> {
    let templates: Vec<_> = (0..params.printers).map(template).collect();
    let total = params.total_events();
    let mut slips = Vec::with_capacity(total as usize);
    let mut ticks = tokio::time::interval(params.period());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for seq in 0..total {
        let scheduled = ticks.tick().await;
        slips.push(scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32);
        farm.broadcast(event(&templates, seq, now_nanos()));
    }
    slips
}

/// `(seq, sent nanos)` from a printer event's JSON, without a full parse (clients must stay cheap).
fn probe(text: &str) -> Option<(u64, u64)> {
    let start = text.find(PROBE)? + PROBE.len();
    let rest = &text[start..];
    let end = rest.find('"')?;
    let (seq, nanos) = rest[..end].split_once(' ')?;
    Some((seq.parse().ok()?, nanos.parse().ok()?))
}

async fn client(
    url: String,
    key: String,
    total: u64,
    connect: Arc<Semaphore>,
    ready: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> ClientResult {
    let mut result = ClientResult { lags_us: Vec::with_capacity(total as usize), ..Default::default() };
    let permit = connect.acquire_owned().await;
    let mut request = url.as_str().into_client_request().expect("a valid URL");
    request.headers_mut().insert("x-api-key", key.parse().expect("keys are header-safe"));
    let mut ws = match tokio::time::timeout(Duration::from_secs(30), tokio_tungstenite::connect_async(request)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            result.error = Some(format!("connect: {e}"));
            return result;
        }
        Err(_) => {
            result.error = Some("connect: timed out".into());
            return result;
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"type":"snapshot""#) => {}
        other => {
            result.error = Some(format!("expected a snapshot first, got {other:?}"));
            return result;
        }
    }
    drop(permit);
    result.connected = true;
    ready.fetch_add(1, Ordering::SeqCst);

    let mut next = 0u64;
    while next < total {
        let frame = tokio::select! {
            _ = stop.cancelled() => break,
            frame = ws.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                result.error = Some(format!("stream closed after {} events", result.received));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                result.error = Some(format!("read: {e}"));
                break;
            }
        };
        let now = now_nanos();
        if text.starts_with(r#"{"type":"snapshot""#) {
            result.resyncs += 1;
            continue;
        }
        if !text.starts_with(r#"{"type":"printer""#) {
            continue;
        }
        let Some((seq, sent)) = probe(&text) else { continue };
        result.received += 1;
        result.lags_us.push((now.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32);
        if seq >= next {
            result.gaps += seq - next;
            next = seq + 1;
        } else {
            result.disorder += 1;
        }
    }
    let _ = ws.close(None).await;
    result
}

/// CPU time per thread name (nanoseconds), from `/proc/self/task/*/{comm,schedstat}`.
fn cpu_by_thread() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let dir = task.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else { continue };
        let nanos = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .or_else(|| {
                // utime + stime in clock ticks (USER_HZ = 100 on Linux).
                let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
                let fields: Vec<_> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
                Some(ticks * 10_000_000)
            })
            .unwrap_or(0);
        let name = comm.trim();
        let key = if name.starts_with("fanout-server") {
            "server"
        } else if name.starts_with("fanout-client") {
            "clients"
        } else {
            "other"
        };
        *out.entry(key.to_string()).or_default() += nanos;
    }
    out
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Nanoseconds to serialise one printer event, measured on this thread.
fn serialise_cost_ns(printers: u32) -> f64 {
    let templates: Vec<_> = (0..printers.max(1)).map(template).collect();
    let events: Vec<_> = (0..1000).map(|seq| event(&templates, seq, now_nanos())).collect();
    let rounds = 20;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        for e in &events {
            bytes += serde_json::to_string(std::hint::black_box(e)).expect("serialises").len();
        }
    }
    std::hint::black_box(bytes);
    start.elapsed().as_nanos() as f64 / (rounds * events.len()) as f64
}

fn main() {
    EPOCH.get_or_init(Instant::now);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let params = Params {
        clients: env_or("FANOUT_CLIENTS", 500),
        printers: env_or("FANOUT_PRINTERS", 100),
        hz: env_or("FANOUT_HZ", 2.0),
        seconds: env_or("FANOUT_SECONDS", 20.0),
        p99_target_ms: env_or("FANOUT_P99_MS", 100.0),
    };
    assert!(params.clients > 0 && params.printers > 0 && params.hz > 0.0 && params.seconds > 0.0);
    let server_threads = env_or("FANOUT_SERVER_THREADS", cpus);
    let client_threads = env_or("FANOUT_CLIENT_THREADS", cpus);
    let total = params.total_events();
    let expected = total * params.clients as u64;

    println!(
        "fanout: {} clients, {} printers at {} Hz ({} events/s, one every {:.2} ms) for {} s = {} events, \
         {} deliveries expected; {} CPUs, {} server + {} client threads",
        params.clients,
        params.printers,
        params.hz,
        params.printers as f64 * params.hz,
        params.period().as_secs_f64() * 1000.0,
        params.seconds,
        total,
        expected,
        cpus,
        server_threads,
        client_threads,
    );
    let example = serde_json::to_string(&event(&[template(0)], 0, 0)).expect("serialises");
    println!("event size: {} bytes of JSON; serialising one takes {:.2} µs", example.len(), {
        serialise_cost_ns(params.printers) / 1000.0
    });
    if let Some(limit) = open_files_limit() {
        let need = 2 * params.clients as u64 + 64;
        if limit < need {
            println!("warning: open-files limit {limit} < about {need} needed; raise it with `ulimit -n {need}`");
        }
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name("fanout-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("fanout-client")
        .enable_all()
        .build()
        .expect("client runtime");

    let server = server_rt.block_on(start_server(dir.path())).expect("server starts");
    let url = format!("ws://{}/api/v1/events", server.addr);

    // Connect everyone and wait for each client's snapshot.
    let connect_start = Instant::now();
    let ready = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let connect = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let clients: Vec<_> = (0..params.clients)
        .map(|_| {
            client_rt.spawn(client(
                url.clone(),
                server.key.clone(),
                total,
                connect.clone(),
                ready.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let connect_deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::SeqCst) < params.clients
        && Instant::now() < connect_deadline
        && !clients.iter().all(|c| c.is_finished())
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let connected = ready.load(Ordering::SeqCst);
    println!("connected: {connected}/{} clients in {:.2} s", params.clients, connect_start.elapsed().as_secs_f64());

    // Produce, then let the clients drain (bounded).
    let cpu_before = cpu_by_thread();
    let run_start = Instant::now();
    let producer = server_rt.spawn(produce(server.farm.clone(), params));
    let produce_limit = Duration::from_secs_f64(params.seconds * 3.0 + 30.0);
    let slips = server_rt.block_on(async { tokio::time::timeout(produce_limit, producer).await });
    let produce_secs = run_start.elapsed().as_secs_f64();
    let slips = match slips {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => panic!("producer failed: {e}"),
        Err(_) => {
            println!("producer did not finish within {produce_limit:?}");
            Vec::new()
        }
    };
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    while !clients.iter().all(|c| c.is_finished()) && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let run_secs = run_start.elapsed().as_secs_f64();
    let cpu_after = cpu_by_thread();
    stop.cancel();
    let results: Vec<ClientResult> = client_rt.block_on(async {
        let mut out = Vec::with_capacity(clients.len());
        for c in clients {
            match tokio::time::timeout(Duration::from_secs(10), c).await {
                Ok(Ok(r)) => out.push(r),
                Ok(Err(e)) => out.push(ClientResult { error: Some(format!("client task: {e}")), ..Default::default() }),
                Err(_) => out.push(ClientResult { error: Some("client did not stop".into()), ..Default::default() }),
            }
        }
        out
    });

    // Stop the server like `serve_on` does.
    server.shutdown.cancel();
    server_rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(15), server.handle).await;
        server.farm.join(Duration::from_secs(10)).await;
        server.db.close().await;
    });
    client_rt.shutdown_timeout(Duration::from_secs(5));
    server_rt.shutdown_timeout(Duration::from_secs(5));

    // Report.
    let delivered: u64 = results.iter().map(|r| r.received).sum();
    let gaps: u64 = results.iter().map(|r| r.gaps).sum();
    let disorder: u64 = results.iter().map(|r| r.disorder).sum();
    let resyncs: u64 = results.iter().map(|r| r.resyncs).sum();
    let resynced_clients = results.iter().filter(|r| r.resyncs > 0).count();
    let errors: Vec<_> = results.iter().filter_map(|r| r.error.as_deref()).collect();
    let lost = expected.saturating_sub(delivered);
    let mut lags: Vec<u32> = results.iter().flat_map(|r| r.lags_us.iter().copied()).collect();
    lags.sort_unstable();
    let (p50, p90, p99, p999) =
        (percentile(&lags, 0.50), percentile(&lags, 0.90), percentile(&lags, 0.99), percentile(&lags, 0.999));
    let max = lags.last().map_or(f64::NAN, |&m| m as f64 / 1000.0);
    let mut slips_sorted = slips.clone();
    slips_sorted.sort_unstable();

    println!(
        "producer: sent {} events in {produce_secs:.2} s ({:.1}/s); late against schedule p99 {:.2} ms, max {:.2} ms",
        slips.len(),
        slips.len() as f64 / produce_secs,
        percentile(&slips_sorted, 0.99),
        slips_sorted.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
    );
    println!(
        "delivered: {delivered}/{expected} ({:.0}/s), lost {lost}, gaps {gaps}, out of order {disorder}, \
         resync snapshots {resyncs} (to {resynced_clients} clients), client errors {}",
        delivered as f64 / run_secs,
        errors.len()
    );
    for e in errors.iter().take(5) {
        println!("  client error: {e}");
    }
    println!("lag ms: p50 {p50:.2}  p90 {p90:.2}  p99 {p99:.2}  p99.9 {p999:.2}  max {max:.2}");
    let cpu = |key: &str| {
        (cpu_after.get(key).copied().unwrap_or(0).saturating_sub(cpu_before.get(key).copied().unwrap_or(0))) as f64
            / 1e9
    };
    let (server_cpu, client_cpu, other_cpu) = (cpu("server"), cpu("clients"), cpu("other"));
    println!(
        "cpu over {run_secs:.2} s: server {server_cpu:.2} s ({:.0}% of a core, {:.2} µs per delivery), \
         clients {client_cpu:.2} s ({:.0}%), other threads {other_cpu:.2} s",
        100.0 * server_cpu / run_secs,
        server_cpu * 1e6 / delivered.max(1) as f64,
        100.0 * client_cpu / run_secs,
    );

    let pass =
        connected == params.clients && lost == 0 && resyncs == 0 && errors.is_empty() && p99 < params.p99_target_ms;
    let verdict = if pass { "PASS" } else { "FAIL" };
    println!(
        "fanout {verdict}: clients={} printers={} hz={} secs={} delivered={delivered}/{expected} lost={lost} \
         resyncs={resyncs} lag_ms p50={p50:.1} p90={p90:.1} p99={p99:.1} max={max:.1} (target p99<{}) \
         server_cpu={:.0}%",
        params.clients,
        params.printers,
        params.hz,
        params.seconds,
        params.p99_target_ms,
        100.0 * server_cpu / run_secs,
    );
    if !pass {
        std::process::exit(1);
    }
}
