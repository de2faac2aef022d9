//! Prometheus metrics at `/metrics` (text exposition format 0.0.4): HTTP requests by status class and
//! their latency, slicing and generation times, and, read at scrape time, jobs by state (the queue's
//! depth) and printers by state. Counters are process-wide atomics, so recording costs a few
//! nanoseconds and no locks. The same middleware writes the access log, one structured line per request.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

/// Upper bounds (seconds) of the latency histogram's buckets.
const HTTP_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
/// Upper bounds (seconds) of the slicing-time histogram's buckets.
const SLICE_BUCKETS: [f64; 8] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Upper bounds (seconds) of the generation-time histograms' buckets (procedural: milliseconds; Shap-E on
/// a CPU: minutes).
const GENERATION_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 180.0, 600.0, 1800.0];

/// A histogram with fixed buckets; counts are cumulative only when rendered.
struct Histogram<const N: usize> {
    bounds: [f64; N],
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    const fn new(bounds: [f64; N]) -> Self {
        Self { bounds, buckets: [const { AtomicU64::new(0) }; N], count: AtomicU64::new(0), sum_us: AtomicU64::new(0) }
    }

    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        self.render_series(out, name, "");
    }

    /// The series of one label set (`labels` like `engine="procedural",`, trailing comma included).
    fn render_series(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let bare = labels.trim_end_matches(',');
        let braces = if bare.is_empty() { String::new() } else { format!("{{{bare}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// HTTP responses by status class (1xx…5xx).
static RESPONSES: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static HTTP_LATENCY: Histogram<10> = Histogram::new(HTTP_BUCKETS);
static SLICE_TIME: Histogram<8> = Histogram::new(SLICE_BUCKETS);
static GENERATION_TIME: [Histogram<9>; 2] = [const { Histogram::new(GENERATION_BUCKETS) }; 2];

/// Records one slice's duration (called by the farm's dispatcher).
pub fn observe_slice(d: Duration) {
    SLICE_TIME.observe(d);
}

/// Which generator made a model.
#[derive(Debug, Clone, Copy)]
pub enum Generator {
    Procedural = 0,
    ShapE = 1,
}

/// Records how long one generation took from start to stored model (or failure).
pub fn observe_generation(generator: Generator, d: Duration) {
    GENERATION_TIME[generator as usize].observe(d);
}

/// Who made a request, for the access log: the gate leaves it on the response.
#[derive(Debug, Clone)]
pub struct RequestUser(pub String);

/// Middleware: counts every response by status class, records how long it took and writes the access
/// log line (`request` events at `info`; health checks and scrapes at `debug`). The path is logged without
/// its query, which may carry a sign-in's `next` or a search.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let class = (status / 100).clamp(1, 5) as usize - 1;
    RESPONSES[class].fetch_add(1, Ordering::Relaxed);
    let took = started.elapsed();
    HTTP_LATENCY.observe(took);
    let user = response.extensions().get::<RequestUser>().map(|u| u.0.as_str()).unwrap_or("-");
    let ms = (took.as_secs_f64() * 1e4).round() / 10.0;
    if matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(target: "request", %method, path, status, ms, user, "request");
    } else {
        tracing::info!(target: "request", %method, path, status, ms, user, "request");
    }
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP printfarm_http_responses_total HTTP responses by status class.\n# TYPE printfarm_http_responses_total counter"
    );
    for (i, n) in RESPONSES.iter().enumerate() {
        let _ = writeln!(out, "printfarm_http_responses_total{{class=\"{}xx\"}} {}", i + 1, n.load(Ordering::Relaxed));
    }
    HTTP_LATENCY.render(&mut out, "printfarm_http_request_duration_seconds", "Time to answer an HTTP request.");
    SLICE_TIME.render(&mut out, "printfarm_slice_duration_seconds", "Time to slice a job, queueing excluded.");
    let name = "printfarm_generation_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to generate a model, from start to stored result, queueing excluded.\n# TYPE {name} histogram"
    );
    GENERATION_TIME[Generator::Procedural as usize].render_series(&mut out, name, "engine=\"procedural\",");
    GENERATION_TIME[Generator::ShapE as usize].render_series(&mut out, name, "engine=\"shap_e\",");

    let _ = writeln!(out, "# HELP printfarm_jobs Jobs by state.\n# TYPE printfarm_jobs gauge");
    match state.db.jobs().count_by_state().await {
        Ok(counts) => {
            for (s, n) in counts {
                let _ = writeln!(out, "printfarm_jobs{{state=\"{s}\"}} {n}");
            }
        }
        Err(e) => tracing::warn!("metrics: {e}"),
    }
    let _ = writeln!(out, "# HELP printfarm_printers Printers by state.\n# TYPE printfarm_printers gauge");
    let mut by_state = std::collections::BTreeMap::new();
    for p in state.farm.snapshot() {
        *by_state.entry(p.state.key()).or_insert(0u64) += 1;
    }
    for (s, n) in by_state {
        let _ = writeln!(out, "printfarm_printers{{state=\"{s}\"}} {n}");
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
