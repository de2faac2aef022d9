//! Serial driver benchmarks against the simulated Marlin (run: `cargo bench -p printers --bench serial`).
//!
//! - streaming throughput over a pty at 250000 baud with a simulator that answers instantly, with
//!   ping-pong flow control and with ADVANCED_OK windows;
//! - how long one lost `ok` costs (the watchdog's recovery);
//! - CPU used by one process holding 50 idle simulated printers and their drivers, and whether
//!   every driver saw every temperature report.
//!
//! `scripts/bench-printers` runs the same file through OctoPrint on the same kind of pty.

use std::time::{Duration, Instant};

use printers::marlin::{MarlinDriver, MarlinOptions};
use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
use printers::{PrinterDriver, PrinterState};

fn job(dir: &std::path::Path, lines: usize) -> std::path::PathBuf {
    let mut text = String::with_capacity(lines * 40);
    for i in 0..lines {
        text.push_str(&format!(
            "G1 X{:.3} Y{:.3} E{:.5}\n",
            (i % 200) as f64 * 0.7,
            (i / 200) as f64 * 0.4,
            i as f64 * 0.0123
        ));
    }
    let path = dir.join("bench.gcode");
    std::fs::write(&path, text).unwrap();
    path
}

fn instant_sim(advanced_ok: bool, faults: Faults) -> MarlinSim {
    MarlinSim::new(SimConfig { speedup: f64::INFINITY, advanced_ok, ..SimConfig::default() }, faults)
}

/// Streams `path` to `sim` over a pty; returns the wall time from start to the job's end.
async fn stream(sim: &MarlinSim, path: &std::path::Path, options: MarlinOptions) -> (Duration, MarlinDriver) {
    let pty = sim.serve_pty().unwrap();
    let driver = MarlinDriver::serial(pty.path.display().to_string(), 250_000, options);
    let mut rx = driver.status();
    driver.connect().await.unwrap();
    rx.wait_for(|s| s.state == PrinterState::Idle && s.firmware.as_ref().is_some_and(|f| !f.capabilities.is_empty()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await; // let M155 settle
    let name = driver.upload(path).await.unwrap().name;
    let started = Instant::now();
    driver.start(&name).await.unwrap();
    let end = rx.wait_for(|s| s.state == PrinterState::Idle || s.state == PrinterState::Error).await.unwrap().clone();
    let took = started.elapsed();
    assert_eq!(end.state, PrinterState::Idle, "{end:?}");
    driver.disconnect().await.unwrap();
    (took, driver)
}

fn cpu_seconds() -> f64 {
    // /proc/self/stat fields 14 and 15 (utime, stime) in clock ticks; 100 Hz on Linux.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

#[tokio::main]
async fn main() {
    let lines: usize = std::env::var("BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let path = job(dir.path(), lines);

    for (label, advanced) in [("ping-pong", false), ("ADVANCED_OK", true)] {
        let sim = instant_sim(advanced, Faults::default());
        let opts = MarlinOptions { windowed: advanced, ..MarlinOptions::default() };
        let (took, _) = stream(&sim, &path, opts).await;
        let ran = sim.executed().iter().filter(|c| c.starts_with("G1 X")).count();
        assert_eq!(ran, lines);
        println!(
            "stream {label:<12} {lines} lines in {:.2} s = {:.0} lines/s",
            took.as_secs_f64(),
            lines as f64 / took.as_secs_f64()
        );
    }

    let small = job(dir.path(), 2000);
    let (base, _) = stream(&instant_sim(false, Faults::default()), &small, MarlinOptions::default()).await;
    let sim = instant_sim(false, Faults { drop_ok: [1000].into(), ..Faults::default() });
    let (with_loss, driver) = stream(&sim, &small, MarlinOptions::default()).await;
    assert_eq!(driver.stats().lost_oks, 1);
    println!(
        "lost ok: recovered in {:.2} s (job {:.2} s without the loss, {:.2} s with it; ok_timeout {:?})",
        (with_loss - base).as_secs_f64(),
        base.as_secs_f64(),
        with_loss.as_secs_f64(),
        MarlinOptions::default().ok_timeout
    );

    // 50 idle printers: real-time simulators reporting temperatures every 2 s, one driver each.
    let n = 50;
    let mut held = Vec::new();
    for i in 0..n {
        let sim = MarlinSim::new(SimConfig { uuid: format!("sim-{i}"), ..SimConfig::default() }, Faults::default());
        let pty = sim.serve_pty().unwrap();
        let driver = MarlinDriver::serial(pty.path.display().to_string(), 115_200, MarlinOptions::default());
        driver.connect().await.unwrap();
        held.push((sim, pty, driver));
    }
    for (_, _, d) in &held {
        d.status().wait_for(|s| s.state == PrinterState::Idle).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before: Vec<u64> = held.iter().map(|(_, _, d)| d.stats().temperature_reports).collect();
    let window = Duration::from_secs(20);
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu1, elapsed) = (cpu_seconds(), t0.elapsed());
    let got: Vec<u64> = held.iter().zip(&before).map(|((_, _, d), b)| d.stats().temperature_reports - b).collect();
    let expected = window.as_secs() / 2;
    println!(
        "{n} idle printers (simulators and drivers in one process): {:.2}% of one core; reports per printer in {}s: min {} max {} (expected {expected})",
        100.0 * (cpu1 - cpu0) / elapsed.as_secs_f64(),
        window.as_secs(),
        got.iter().min().unwrap(),
        got.iter().max().unwrap(),
    );
}
