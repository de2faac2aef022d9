//! A simulated Marlin printer that speaks the real serial line protocol: line numbers and XOR
//! checksums checked on receive (with `Resend:` on error), a 4-command queue and a 16-move planner
//! so that `ok`s pace the host like real firmware, heaters with first-order lag for
//! M104/M109/M140/M190, motion time from feedrate and distance (divided by a speed-up factor), `M115`
//! with capabilities, `busy:` keepalives, temperature autoreport, and one-shot fault injection keyed
//! by line number. Every command it executes is appended to a log, so tests can check that each
//! line of a file ran exactly once and in order.
//!
//! [`MarlinSim::serve`] runs one boot of the printer over any byte stream (an in-process duplex, a
//! TCP socket); [`MarlinSim::serve_pty`] puts it behind a pseudo-terminal.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::marlin::protocol::{checksum, command_word, param};
use crate::pty::PtyMaster;

/// Room temperature, °C.
const AMBIENT_C: f64 = 22.0;
/// Thermal time constants, seconds of simulated time.
const HOTEND_TAU_S: f64 = 20.0;
const BED_TAU_S: f64 = 45.0;
/// M109/M190 finish within this band, °C (Marlin's TEMP_WINDOW / TEMP_BED_WINDOW).
const TEMP_WINDOW_C: f64 = 1.0;
/// Homing speed, mm/s, and the distance a homing move is assumed to cover.
const HOMING_MM_S: f64 = 50.0;
const HOMING_MM: f64 = 200.0;
/// How often Marlin prints `busy: processing` while a command blocks (HOST_KEEPALIVE default 2 s).
const KEEPALIVE: Duration = Duration::from_secs(2);

/// How the simulated printer behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Simulated seconds per real second; `f64::INFINITY` makes moves, dwells and heating instant.
    pub speedup: f64,
    /// Send `ok N<line> P<planner> B<buffer>` (Marlin `ADVANCED_OK`).
    pub advanced_ok: bool,
    /// Report `Cap:AUTOREPORT_TEMP:1` and honour `M155`.
    pub autoreport_temp: bool,
    /// Print `busy: processing` while a command blocks (Marlin `HOST_KEEPALIVE_FEATURE`).
    pub busy_keepalive: bool,
    /// Print the boot banner (`start`, echo lines) when a connection begins, as after a DTR reset.
    pub boot_banner: bool,
    /// Commands the firmware queue holds (Marlin `BUFSIZE`).
    pub buffer_size: usize,
    /// Moves the planner holds before an `ok` has to wait for one to finish (`BLOCK_BUFFER_SIZE`).
    pub planner_size: usize,
    /// Reported in `M115` as `UUID:`.
    pub uuid: String,
    /// Keep every executed command for [`MarlinSim::executed`] (tests). A demo printer that runs for weeks
    /// must not: each print would add its whole G-code to memory.
    pub keep_log: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            speedup: 1.0,
            advanced_ok: false,
            autoreport_temp: true,
            busy_keepalive: true,
            boot_banner: true,
            buffer_size: 4,
            planner_size: 16,
            uuid: "5d6c1e2a-0000-4000-8000-5afe5afe5afe".into(),
            keep_log: true,
        }
    }
}

/// One-shot faults, each keyed by the line number (`N`) it hits; each fires once and is removed.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Execute the line but never send its `ok`.
    pub drop_ok: BTreeSet<u64>,
    /// The line arrives with a flipped byte, so its checksum fails.
    pub corrupt: BTreeSet<u64>,
    /// After executing the line the board resets: `start`, line numbers back to 0, heaters off.
    pub reset_after: BTreeSet<u64>,
    /// After executing the line the hotend runs away: Marlin's error and `kill()`.
    pub thermal_runaway_after: BTreeSet<u64>,
}

/// A simulated Marlin printer; clones share the same state, faults and log.
#[derive(Clone)]
pub struct MarlinSim {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    faults: Mutex<Faults>,
    log: Mutex<Vec<String>>,
    heaters: Mutex<[Heater; 2]>,
    boots: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Heater {
    /// Temperature at `since`, and the target since then.
    at: f64,
    target: f64,
    since: Instant,
    tau_s: f64,
}

impl Heater {
    fn new(tau_s: f64) -> Self {
        Self { at: AMBIENT_C, target: 0.0, since: Instant::now(), tau_s }
    }

    fn goal(&self) -> f64 {
        if self.target > 0.0 {
            self.target
        } else {
            AMBIENT_C
        }
    }

    fn actual(&self, speedup: f64, now: Instant) -> f64 {
        let sim_s = (now - self.since).as_secs_f64() * speedup;
        let k = if sim_s.is_finite() { (-sim_s / self.tau_s).exp() } else { 0.0 };
        self.goal() + (self.at - self.goal()) * k
    }

    fn set_target(&mut self, target: f64, speedup: f64, now: Instant) {
        self.at = self.actual(speedup, now);
        self.since = now;
        self.target = target;
    }

    /// Real time until the heater is within the window of its target.
    fn time_to_target(&self, speedup: f64, now: Instant) -> Duration {
        let gap = (self.actual(speedup, now) - self.goal()).abs();
        if gap <= TEMP_WINDOW_C || !speedup.is_finite() {
            return Duration::ZERO;
        }
        // Aim slightly inside the window so rounding never leaves us just outside it.
        Duration::from_secs_f64(self.tau_s * (gap / (TEMP_WINDOW_C * 0.9)).ln() / speedup)
    }
}

/// A command that passed framing checks, on its way from the serial reader to the executor.
struct Queued {
    line: Option<u64>,
    cmd: String,
}

/// What the reader and the executor of one connection share.
struct Conn {
    last_line: AtomicU64,
    halted: std::sync::atomic::AtomicBool,
    /// `M155` interval, ms (0 = off); the writer sleeps until the next report is due.
    autoreport_ms: watch::Sender<u64>,
    out: mpsc::UnboundedSender<String>,
}

impl Conn {
    fn say(&self, line: impl Into<String>) {
        // The writer only goes away when the connection closes; nothing to tell anyone then.
        let _ = self.out.send(line.into());
    }
}

impl MarlinSim {
    pub fn new(config: SimConfig, faults: Faults) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                faults: Mutex::new(faults),
                log: Mutex::new(Vec::new()),
                heaters: Mutex::new([Heater::new(HOTEND_TAU_S), Heater::new(BED_TAU_S)]),
                boots: AtomicU64::new(0),
            }),
        }
    }

    /// Every command executed so far, as received without line number and checksum.
    pub fn executed(&self) -> Vec<String> {
        self.inner.log.lock().expect("sim log").clone()
    }

    /// Adds faults to those still pending.
    pub fn inject(&self, more: Faults) {
        let mut f = self.inner.faults.lock().expect("sim faults");
        f.drop_ok.extend(more.drop_ok);
        f.corrupt.extend(more.corrupt);
        f.reset_after.extend(more.reset_after);
        f.thermal_runaway_after.extend(more.thermal_runaway_after);
    }

    /// Current (hotend, bed) temperatures, °C.
    pub fn temperatures(&self) -> (f64, f64) {
        let h = self.inner.heaters.lock().expect("sim heaters");
        let now = Instant::now();
        (h[0].actual(self.inner.config.speedup, now), h[1].actual(self.inner.config.speedup, now))
    }

    /// How many times the board has booted (connections served plus injected resets).
    pub fn boots(&self) -> u64 {
        self.inner.boots.load(Ordering::Relaxed)
    }

    /// Runs the printer on a new pseudo-terminal until the returned handle is dropped.
    pub fn serve_pty(&self) -> io::Result<PtySim> {
        let master = PtyMaster::open()?;
        let path = master.path().to_path_buf();
        let sim = self.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = sim.serve(master).await {
                tracing::debug!("simulated printer on pty stopped: {e}");
            }
        });
        Ok(PtySim { path, task })
    }

    /// Runs one boot of the printer over `io` until the other side closes it.
    pub async fn serve<S>(&self, io: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, mut wr) = tokio::io::split(io);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (report_tx, mut report_rx) = watch::channel(0u64);
        let conn = Arc::new(Conn {
            last_line: AtomicU64::new(0),
            halted: false.into(),
            autoreport_ms: report_tx,
            out: out_tx,
        });
        self.boot(&conn);

        // The writer also emits temperature autoreports, on their own clock like Marlin's.
        let sim = self.clone();
        let wconn = conn.clone();
        let writer = tokio::spawn(async move {
            let mut next_report: Option<Instant> = None;
            let mut buf = Vec::with_capacity(4096);
            loop {
                tokio::select! {
                    line = out_rx.recv() => {
                        let Some(line) = line else { break };
                        buf.clear();
                        buf.extend_from_slice(line.as_bytes());
                        buf.push(b'\n');
                        // Batch whatever else is ready into one write, as a UART FIFO would.
                        while let Ok(more) = out_rx.try_recv() {
                            buf.extend_from_slice(more.as_bytes());
                            buf.push(b'\n');
                        }
                        if wr.write_all(&buf).await.is_err() { break; }
                    }
                    changed = report_rx.changed() => {
                        if changed.is_err() { break; }
                        let ms = *report_rx.borrow_and_update();
                        next_report = (ms > 0).then(|| Instant::now() + Duration::from_millis(ms));
                    }
                    _ = sleep_until_opt(next_report) => {
                        let ms = *report_rx.borrow();
                        next_report = (ms > 0).then(|| Instant::now() + Duration::from_millis(ms));
                        if !wconn.halted.load(Ordering::Relaxed) {
                            let line = format!(" {}\n", sim.temp_report());
                            if wr.write_all(line.as_bytes()).await.is_err() { break; }
                        }
                    }
                }
            }
        });

        let (q_tx, q_rx) = mpsc::channel::<Queued>(self.inner.config.buffer_size.max(1));
        let exec = tokio::spawn(self.clone().executor(conn.clone(), q_rx));
        let result = self.reader(&conn, rd, q_tx).await;
        exec.abort();
        writer.abort();
        result
    }

    fn boot(&self, conn: &Conn) {
        self.inner.boots.fetch_add(1, Ordering::Relaxed);
        conn.last_line.store(0, Ordering::Relaxed);
        conn.halted.store(false, Ordering::Relaxed);
        conn.autoreport_ms.send_replace(0);
        let now = Instant::now();
        for h in self.inner.heaters.lock().expect("sim heaters").iter_mut() {
            h.set_target(0.0, self.inner.config.speedup, now);
        }
        if self.inner.config.boot_banner {
            conn.say("start");
            conn.say("echo:Marlin 2.1.2.4 (printfarm simulator)");
            conn.say("echo: Last Updated: 2024-06-01 | Author: (printfarm)");
            conn.say("echo:Free Memory: 4096  PlannerBufferBytes: 1232");
        }
    }

    /// Reads lines, checks framing, and queues good commands; the queue's bound is the firmware's
    /// BUFSIZE, so a host that sends ahead blocks here exactly as it would on a real board.
    async fn reader<R: AsyncRead>(&self, conn: &Arc<Conn>, rd: R, queue: mpsc::Sender<Queued>) -> io::Result<()> {
        let mut rd = Box::pin(BufReader::new(rd));
        let mut raw = Vec::with_capacity(128);
        loop {
            raw.clear();
            if rd.read_until(b'\n', &mut raw).await? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&raw).trim().to_string();
            if text.is_empty() {
                continue;
            }
            if command_word(strip_framing(&text)) == "M112" {
                // The emergency parser acts as the bytes arrive, ahead of the queue.
                self.log(strip_framing(&text));
                self.halt(conn, None);
                continue;
            }
            if conn.halted.load(Ordering::Relaxed) {
                continue;
            }
            let Some(q) = self.check_framing(conn, text) else { continue };
            if queue.send(q).await.is_err() {
                return Ok(());
            }
        }
    }

    fn check_framing(&self, conn: &Conn, mut text: String) -> Option<Queued> {
        let last = conn.last_line.load(Ordering::Relaxed);
        let Some(rest) = text.strip_prefix('N') else {
            return Some(Queued { line: None, cmd: strip_framing(&text).to_string() });
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse::<u64>() else {
            return Some(Queued { line: None, cmd: strip_framing(&text).to_string() });
        };
        if self.inner.faults.lock().expect("sim faults").corrupt.remove(&n) {
            // Flip a bit in the last character of the command, as line noise would.
            if let Some(star) = text.rfind('*') {
                if star > 0 {
                    let mut bytes = text.into_bytes();
                    bytes[star - 1] ^= 0x01;
                    text = String::from_utf8_lossy(&bytes).into_owned();
                }
            }
        }
        let Some(star) = text.rfind('*') else {
            self.request_resend(conn, &format!("No Checksum with line number, Last Line: {last}"));
            return None;
        };
        let sent: Option<u8> = text[star + 1..].trim().parse().ok();
        if sent != Some(checksum(&text[..star])) {
            self.request_resend(conn, &format!("checksum mismatch, Last Line: {last}"));
            return None;
        }
        let cmd = text[1 + digits.len()..star].trim().to_string();
        if command_word(&cmd) == "M110" {
            let to = param(&cmd, 'N').map_or(n, |v| v as u64);
            conn.last_line.store(to, Ordering::Relaxed);
        } else if n != last + 1 {
            self.request_resend(conn, &format!("Line Number is not Last Line Number+1, Last Line: {last}"));
            return None;
        } else {
            conn.last_line.store(n, Ordering::Relaxed);
        }
        Some(Queued { line: Some(n), cmd })
    }

    fn request_resend(&self, conn: &Conn, error: &str) {
        conn.say(format!("Error:{error}"));
        conn.say(format!("Resend: {}", conn.last_line.load(Ordering::Relaxed) + 1));
        conn.say("ok");
    }

    fn halt(&self, conn: &Conn, why: Option<&str>) {
        if let Some(why) = why {
            conn.say(format!("Error:{why}"));
        }
        conn.say("Error:Printer halted. kill() called!");
        conn.halted.store(true, Ordering::Relaxed);
        let now = Instant::now();
        for h in self.inner.heaters.lock().expect("sim heaters").iter_mut() {
            h.set_target(0.0, self.inner.config.speedup, now);
        }
    }

    fn log(&self, cmd: &str) {
        if self.inner.config.keep_log {
            self.inner.log.lock().expect("sim log").push(cmd.to_string());
        }
    }

    /// Executes queued commands one at a time, sending each `ok` when Marlin would.
    async fn executor(self, conn: Arc<Conn>, mut queue: mpsc::Receiver<Queued>) {
        let mut machine = Machine::default();
        while let Some(q) = queue.recv().await {
            if conn.halted.load(Ordering::Relaxed) {
                continue;
            }
            self.log(&q.cmd);
            let ok_extra = self.execute(&conn, &mut machine, &q.cmd).await;
            let (drop_ok, reset, runaway) = {
                let mut f = self.inner.faults.lock().expect("sim faults");
                match q.line {
                    Some(n) => (f.drop_ok.remove(&n), f.reset_after.remove(&n), f.thermal_runaway_after.remove(&n)),
                    None => (false, false, false),
                }
            };
            if !drop_ok {
                let ok = match ok_extra {
                    Some(extra) => format!("ok {extra}"),
                    None if self.inner.config.advanced_ok => format!(
                        "ok N{} P{} B{}",
                        conn.last_line.load(Ordering::Relaxed),
                        self.inner.config.planner_size.saturating_sub(machine.planner.len()),
                        self.inner.config.buffer_size.saturating_sub(queue.len() + 1),
                    ),
                    None => "ok".to_string(),
                };
                conn.say(ok);
            }
            if runaway {
                self.halt(&conn, Some("Thermal Runaway, system stopped! Heater_ID: 0"));
            }
            if reset {
                while queue.try_recv().is_ok() {}
                machine = Machine::default();
                self.boot(&conn);
            }
        }
    }

    fn temp_report(&self) -> String {
        let h = self.inner.heaters.lock().expect("sim heaters");
        let now = Instant::now();
        let s = self.inner.config.speedup;
        format!(
            "T:{:.2} /{:.2} B:{:.2} /{:.2} @:0 B@:0",
            h[0].actual(s, now),
            h[0].target,
            h[1].actual(s, now),
            h[1].target
        )
    }

    fn sim_duration(&self, sim_s: f64) -> Duration {
        let real = sim_s / self.inner.config.speedup;
        if real.is_finite() && real > 0.0 {
            Duration::from_secs_f64(real)
        } else {
            Duration::ZERO
        }
    }

    /// Runs one command; returns text that belongs on its `ok` line (the `M105` answer).
    async fn execute(&self, conn: &Conn, m: &mut Machine, cmd: &str) -> Option<String> {
        let word = command_word(cmd);
        let speedup = self.inner.config.speedup;
        match word.as_str() {
            "G0" | "G1" => {
                let dist = m.apply_move(cmd);
                let secs = dist / (m.feed_mm_min / 60.0).max(0.1);
                self.plan(conn, m, self.sim_duration(secs)).await;
            }
            "G28" => {
                m.pos[..3].fill(0.0);
                self.plan(conn, m, self.sim_duration(HOMING_MM / HOMING_MM_S)).await;
            }
            "G4" => {
                let secs = param(cmd, 'S').unwrap_or(0.0) + param(cmd, 'P').unwrap_or(0.0) / 1000.0;
                self.drain_planner(conn, m).await;
                self.block(conn, self.sim_duration(secs)).await;
            }
            "M400" => self.drain_planner(conn, m).await,
            "G90" | "G91" => {
                m.relative = word == "G91";
                m.e_relative = m.relative;
            }
            "M82" => m.e_relative = false,
            "M83" => m.e_relative = true,
            "G92" => {
                for (i, axis) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = param(cmd, axis) {
                        m.pos[i] = v;
                    }
                }
            }
            "M104" | "M140" | "M109" | "M190" => {
                let idx = usize::from(word == "M140" || word == "M190");
                let target = param(cmd, 'S').or_else(|| param(cmd, 'R')).unwrap_or(0.0);
                self.inner.heaters.lock().expect("sim heaters")[idx].set_target(target, speedup, Instant::now());
                if word == "M109" || word == "M190" {
                    self.wait_for_heater(conn, idx).await;
                }
            }
            "M105" => return Some(self.temp_report()),
            "M155" => {
                let s = param(cmd, 'S').unwrap_or(0.0);
                if self.inner.config.autoreport_temp {
                    conn.autoreport_ms.send_replace((s * 1000.0) as u64);
                }
            }
            "M114" => conn.say(format!(
                "X:{:.2} Y:{:.2} Z:{:.2} E:{:.2} Count X:0 Y:0 Z:0",
                m.pos[0], m.pos[1], m.pos[2], m.pos[3]
            )),
            "M115" => {
                let c = &self.inner.config;
                conn.say(format!(
                    "FIRMWARE_NAME:Marlin 2.1.2.4 (printfarm simulator) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin \
                     PROTOCOL_VERSION:1.0 MACHINE_TYPE:Printfarm Sim EXTRUDER_COUNT:1 UUID:{}",
                    c.uuid
                ));
                for (cap, on) in [
                    ("SERIAL_XON_XOFF", false),
                    ("EEPROM", false),
                    ("AUTOREPORT_TEMP", c.autoreport_temp),
                    ("AUTOREPORT_POS", false),
                    ("PROGRESS", false),
                    ("PRINT_JOB", true),
                    ("EMERGENCY_PARSER", true),
                    ("HOST_ACTION_COMMANDS", false),
                    ("SDCARD", false),
                    ("THERMAL_PROTECTION", true),
                ] {
                    conn.say(format!("Cap:{cap}:{}", u8::from(on)));
                }
            }
            "M106" | "M107" | "M84" | "M18" | "M110" | "M117" | "M73" | "M999" | "M220" | "M221" | "T0" => {}
            _ => conn.say(format!("echo:Unknown command: \"{cmd}\"")),
        }
        None
    }

    /// Queues a move in the planner; blocks (with keepalives) only while the planner is full.
    async fn plan(&self, conn: &Conn, m: &mut Machine, dur: Duration) {
        let now = Instant::now();
        while m.planner.front().is_some_and(|&t| t <= now) {
            m.planner.pop_front();
        }
        if m.planner.len() >= self.inner.config.planner_size {
            if let Some(&first) = m.planner.front() {
                self.block(conn, first - now).await;
                m.planner.pop_front();
            }
        }
        let start = m.planner.back().copied().unwrap_or(now).max(Instant::now());
        m.planner.push_back(start + dur);
    }

    async fn drain_planner(&self, conn: &Conn, m: &mut Machine) {
        if let Some(&end) = m.planner.back() {
            self.block(conn, end.saturating_duration_since(Instant::now())).await;
        }
        m.planner.clear();
    }

    /// Waits `dur`, printing `busy: processing` every keepalive interval like Marlin does.
    async fn block(&self, conn: &Conn, dur: Duration) {
        if dur.is_zero() {
            return;
        }
        let end = Instant::now() + dur;
        loop {
            let next = Instant::now() + KEEPALIVE;
            if next >= end {
                tokio::time::sleep_until(end).await;
                return;
            }
            tokio::time::sleep_until(next).await;
            if self.inner.config.busy_keepalive {
                conn.say("echo:busy: processing");
            }
        }
    }

    /// M109/M190: report temperatures every second (with `W:`) until the heater is in its window.
    async fn wait_for_heater(&self, conn: &Conn, idx: usize) {
        let mut last_busy = Instant::now();
        loop {
            let left = {
                let h = self.inner.heaters.lock().expect("sim heaters");
                h[idx].time_to_target(self.inner.config.speedup, Instant::now())
            };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_secs(1))).await;
            conn.say(format!(" {} W:?", self.temp_report()));
            if self.inner.config.busy_keepalive && last_busy.elapsed() >= KEEPALIVE {
                last_busy = Instant::now();
                conn.say("echo:busy: processing");
            }
        }
    }
}

/// The machine's motion state, as the firmware tracks it.
struct Machine {
    pos: [f64; 4],
    relative: bool,
    e_relative: bool,
    feed_mm_min: f64,
    /// When each planned move finishes.
    planner: VecDeque<Instant>,
}

impl Default for Machine {
    fn default() -> Self {
        Self { pos: [0.0; 4], relative: false, e_relative: false, feed_mm_min: 1500.0, planner: VecDeque::new() }
    }
}

impl Machine {
    /// Applies a G0/G1 and returns the XYZ distance (or the E distance for an extrude-only move).
    fn apply_move(&mut self, cmd: &str) -> f64 {
        if let Some(f) = param(cmd, 'F') {
            self.feed_mm_min = f;
        }
        let mut d2 = 0.0;
        let mut de: f64 = 0.0;
        for (i, axis) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
            if let Some(v) = param(cmd, axis) {
                let rel = if i == 3 { self.e_relative } else { self.relative };
                let to = if rel { self.pos[i] + v } else { v };
                let d = to - self.pos[i];
                if i == 3 {
                    de = d.abs();
                } else {
                    d2 += d * d;
                }
                self.pos[i] = to;
            }
        }
        if d2 > 0.0 {
            d2.sqrt()
        } else {
            de
        }
    }
}

/// A simulator running behind a pty; dropping it stops the printer.
pub struct PtySim {
    /// The device to open, e.g. `/dev/pts/7`.
    pub path: PathBuf,
    task: JoinHandle<()>,
}

impl Drop for PtySim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The command without `N<n> ` and `*<cs>`.
fn strip_framing(text: &str) -> &str {
    let t = text.split('*').next().unwrap_or("");
    let t = match t.strip_prefix('N') {
        Some(rest) => rest.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => t,
    };
    t.trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marlin::protocol::frame;

    async fn talk(sim: &MarlinSim, lines: &[String]) -> Vec<String> {
        let (host, printer) = tokio::io::duplex(4096);
        let s = sim.clone();
        tokio::spawn(async move { s.serve(printer).await });
        let (rd, mut wr) = tokio::io::split(host);
        for l in lines {
            wr.write_all(format!("{l}\n").as_bytes()).await.unwrap();
        }
        let mut rd = BufReader::new(rd).lines();
        let mut got = Vec::new();
        let oks_wanted = lines.len();
        let mut oks = 0;
        while oks < oks_wanted {
            let l = tokio::time::timeout(Duration::from_secs(5), rd.next_line()).await.unwrap().unwrap().unwrap();
            if l.starts_with("ok") {
                oks += 1;
            }
            got.push(l);
        }
        got
    }

    fn instant() -> SimConfig {
        SimConfig { speedup: f64::INFINITY, ..SimConfig::default() }
    }

    #[tokio::test]
    async fn framing_errors_ask_for_a_resend_and_nothing_runs_twice() {
        let sim = MarlinSim::new(instant(), Faults::default());
        let lines = vec![
            frame(0, "M110 N0"),
            frame(1, "G1 X1"),
            "N2 G1 X2*0".to_string(), // bad checksum
            frame(3, "G1 X3"),        // out of order after the bad line
            frame(2, "G1 X2"),
            frame(2, "G1 X2"), // duplicate
            frame(3, "G1 X3"),
        ];
        let out = talk(&sim, &lines).await;
        assert_eq!(out.first().map(String::as_str), Some("start"));
        assert!(out.iter().any(|l| l.starts_with("Error:checksum mismatch, Last Line: 1")), "{out:?}");
        assert!(out.iter().any(|l| l.starts_with("Error:Line Number is not Last Line Number+1")), "{out:?}");
        assert_eq!(out.iter().filter(|l| *l == "Resend: 2").count(), 2, "{out:?}");
        assert_eq!(out.iter().filter(|l| *l == "Resend: 3").count(), 1, "{out:?}");
        assert_eq!(sim.executed(), ["M110 N0", "G1 X1", "G1 X2", "G1 X3"]);
    }

    #[tokio::test]
    async fn m115_reports_capabilities_and_m105_answers_on_the_ok_line() {
        let sim = MarlinSim::new(instant(), Faults::default());
        let out = talk(&sim, &["M115".into(), "M104 S200".into(), "M105".into()]).await;
        assert!(out.iter().any(|l| l.starts_with("FIRMWARE_NAME:Marlin")), "{out:?}");
        assert!(out.iter().any(|l| l == "Cap:AUTOREPORT_TEMP:1"), "{out:?}");
        let temp = out.iter().find(|l| l.starts_with("ok T:")).unwrap();
        assert!(temp.contains("/200.00"), "{temp}");
    }

    #[tokio::test(start_paused = true)]
    async fn heating_follows_a_first_order_curve() {
        let sim = MarlinSim::new(SimConfig { speedup: 1.0, ..SimConfig::default() }, Faults::default());
        let started = Instant::now();
        let out = talk(&sim, &["M109 S210".into()]).await;
        let took = started.elapsed().as_secs_f64();
        // tau·ln(188 / 0.9) ≈ 107 simulated seconds from 22 °C.
        assert!((100.0..115.0).contains(&took), "M109 took {took} s");
        assert!(out.iter().any(|l| l.contains("W:?")), "{out:?}");
        assert!(out.iter().any(|l| l.contains("busy: processing")), "{out:?}");
        assert!((sim.temperatures().0 - 210.0).abs() <= TEMP_WINDOW_C);
    }

    #[tokio::test(start_paused = true)]
    async fn moves_take_distance_over_feedrate_divided_by_speedup() {
        let sim = MarlinSim::new(SimConfig { speedup: 10.0, ..SimConfig::default() }, Faults::default());
        let started = Instant::now();
        // 100 mm at 600 mm/min = 10 s simulated = 1 s real; M400 waits for the planner to drain.
        talk(&sim, &["G1 X100 F600".into(), "M400".into()]).await;
        let took = started.elapsed().as_secs_f64();
        assert!((0.99..1.1).contains(&took), "took {took} s");
    }

    #[tokio::test]
    async fn advanced_ok_reports_line_and_free_buffer() {
        let sim = MarlinSim::new(SimConfig { advanced_ok: true, ..instant() }, Faults::default());
        let out = talk(&sim, &[frame(0, "M110 N0"), frame(1, "G28")]).await;
        assert!(out.iter().any(|l| l.starts_with("ok N1 P") && l.contains(" B")), "{out:?}");
    }
}
