//! Time windows: quiet hours (no print starts), "long prints overnight" (long jobs start only inside
//! one) and maintenance windows (a printer, or the farm, takes no jobs). Each is a cron start plus a
//! length. tokio-cron-scheduler wakes the dispatcher when a window opens or closes and runs the hourly
//! maintenance check; croner answers "is it open now" and lists the coming windows for the forecast.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::Farm;
use crate::db::FarmWindow;

/// How far ahead the forecast looks for windows.
pub const FORECAST_HORIZON_S: f64 = 14.0 * 86_400.0;

/// A cron pattern parsed, with its window length.
#[derive(Debug, Clone)]
struct Parsed {
    window: FarmWindow,
    cron: Cron,
}

/// Which windows are open, now and ahead.
#[derive(Default)]
pub struct WindowState {
    windows: Mutex<Vec<Parsed>>,
    scheduler: tokio::sync::Mutex<Option<JobScheduler>>,
}

/// What the windows say at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenNow {
    pub quiet: bool,
    pub overnight: bool,
    /// `true` when a farm-wide maintenance window is open.
    pub farm_maintenance: bool,
    pub maintenance_printers: HashSet<i64>,
}

/// Parses a window's cron pattern (six fields, seconds first; five fields are accepted too).
pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    Cron::from_str(pattern.trim()).map_err(|e| format!("{pattern:?} is not a cron pattern: {e}"))
}

impl WindowState {
    /// Loads the windows and starts the cron jobs that wake the farm.
    pub(crate) async fn start(&self, farm: Farm) {
        if let Err(e) = self.reload(&farm).await {
            tracing::warn!("time windows are not active: {e}");
        }
    }

    /// Re-reads the windows from the database and re-creates their cron jobs.
    pub async fn reload(&self, farm: &Farm) -> Result<(), String> {
        let stored = farm.db().farm().windows().await.map_err(|e| e.to_string())?;
        let mut parsed = Vec::new();
        for w in stored {
            match parse_cron(&w.cron) {
                Ok(cron) => parsed.push(Parsed { window: w, cron }),
                Err(e) => tracing::warn!(window = w.id, "{e}"),
            }
        }
        *self.windows.lock().expect("windows lock") = parsed.clone();

        let mut guard = self.scheduler.lock().await;
        if let Some(mut old) = guard.take() {
            let _ = old.shutdown().await;
        }
        let sched = JobScheduler::new().await.map_err(|e| e.to_string())?;
        for p in &parsed {
            let f = farm.clone();
            let length = Duration::from_secs(p.window.duration_min.max(0) as u64 * 60);
            let job = Job::new_async(p.window.cron.as_str(), move |_, _| {
                let f = f.clone();
                Box::pin(async move {
                    f.wake();
                    // Wake again as it closes, so held-back work starts at once.
                    let g = f.clone();
                    f.spawn(async move {
                        tokio::select! {
                            _ = g.shutdown_token().cancelled() => {}
                            _ = tokio::time::sleep(length) => g.wake(),
                        }
                    });
                })
            })
            .map_err(|e| e.to_string())?;
            sched.add(job).await.map_err(|e| e.to_string())?;
        }
        let f = farm.clone();
        let hourly = Job::new_async("0 0 * * * *", move |_, _| {
            let f = f.clone();
            Box::pin(async move { super::notify::check_maintenance(&f).await })
        })
        .map_err(|e| e.to_string())?;
        sched.add(hourly).await.map_err(|e| e.to_string())?;
        sched.start().await.map_err(|e| e.to_string())?;
        *guard = Some(sched);
        Ok(())
    }

    pub(crate) async fn stop(&self) {
        if let Some(mut s) = self.scheduler.lock().await.take() {
            let _ = s.shutdown().await;
        }
    }

    /// Which windows are open at `t`.
    pub fn open_at(&self, t: DateTime<Utc>) -> OpenNow {
        let mut open = OpenNow::default();
        for p in self.windows.lock().expect("windows lock").iter() {
            if is_open(&p.cron, p.window.duration_min, t) {
                match (p.window.kind.as_str(), p.window.printer_id) {
                    ("quiet", _) => open.quiet = true,
                    ("overnight", _) => open.overnight = true,
                    ("maintenance", Some(printer)) => {
                        open.maintenance_printers.insert(printer);
                    }
                    ("maintenance", None) => open.farm_maintenance = true,
                    _ => {}
                }
            }
        }
        open
    }

    /// The intervals (seconds since the epoch) of every `kind` window from `from` to the horizon,
    /// including one already open at `from`.
    pub fn intervals(&self, kind: &str, from: DateTime<Utc>) -> Vec<(f64, f64)> {
        let end = from.timestamp() as f64 + FORECAST_HORIZON_S;
        let mut out = Vec::new();
        for p in self.windows.lock().expect("windows lock").iter().filter(|p| p.window.kind == kind) {
            let len = p.window.duration_min.max(0) as f64 * 60.0;
            let mut t = from - chrono::Duration::seconds(len as i64);
            // A window every minute over two weeks is 20,000 intervals; more is a mistake, not a schedule.
            for _ in 0..20_000 {
                let Ok(next) = p.cron.find_next_occurrence(&t, false) else { break };
                let start = next.timestamp() as f64;
                if start > end {
                    break;
                }
                out.push((start, start + len));
                t = next;
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

/// Whether a window of `duration_min` starting at each match of `cron` covers `t`.
fn is_open(cron: &Cron, duration_min: i64, t: DateTime<Utc>) -> bool {
    let since = t - chrono::Duration::minutes(duration_min.max(0));
    cron.find_next_occurrence(&since, false).is_ok_and(|start| start <= t)
}

/// Seconds since the epoch as a UTC time.
pub fn utc(seconds: f64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds.floor() as i64, 0).single().unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nightly_window_is_open_across_midnight() {
        let cron = parse_cron("0 0 22 * * *").unwrap();
        let at = |h: u32, m: u32, d: u32| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        // 22:00 for 8 hours: open at 23:30 and at 05:59 the next day, closed at 06:00 and at 21:59.
        assert!(is_open(&cron, 480, at(23, 30, 10)));
        assert!(is_open(&cron, 480, at(5, 59, 11)));
        assert!(!is_open(&cron, 480, at(6, 0, 11)));
        assert!(!is_open(&cron, 480, at(21, 59, 11)));
        assert!(is_open(&cron, 480, at(22, 0, 11)));
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        assert!(parse_cron("every night").unwrap_err().contains("every night"));
    }
}
