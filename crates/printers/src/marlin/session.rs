//! One connection to a Marlin board: the handshake, then streaming with line numbers, checksums,
//! resends, an `ok` watchdog and (with `ADVANCED_OK`) a send window, until the link drops or the
//! driver is told to disconnect. Works over any byte stream, so serial ports, TCP sockets and
//! in-process pipes share it.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use tokio::fs::File;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::protocol::{command_word, frame, param, strip_comment, Response};
use super::MarlinOptions;
use crate::sim::marlin::sleep_until_opt;
use crate::{ByteProgress, DriverError, FirmwareInfo, Position, PrinterState, PrinterStatus};

/// How many sent lines are kept for resends; a printer only ever asks for recent ones.
const HISTORY: usize = 512;
/// Watchdog firings in a row, with nothing at all heard from the printer, after which it is gone.
const SILENT_FIRINGS_FOR_DEAD: u32 = 5;
/// Commands that answer only when they finish, which can take much longer than an `ok` normally does.
const BLOCKING: &[&str] = &[
    "G4", "G28", "G29", "G33", "G34", "G76", "M0", "M1", "M48", "M109", "M116", "M190", "M191", "M226", "M303", "M400",
    "M600",
];
/// Job progress is published at most this often, so streaming is not slowed by status traffic.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// A request from the driver handle to the connection task.
pub(crate) enum Command {
    Start { name: String, path: PathBuf, reply: oneshot::Sender<Result<(), DriverError>> },
    Pause(oneshot::Sender<Result<(), DriverError>>),
    Resume(oneshot::Sender<Result<(), DriverError>>),
    Cancel(oneshot::Sender<Result<(), DriverError>>),
    Gcode(Vec<String>, oneshot::Sender<Result<(), DriverError>>),
    Disconnect,
}

/// Why a session ended.
pub(crate) enum End {
    /// The driver asked to disconnect.
    Disconnect,
    /// The link failed (cable pulled, socket closed); the message says how.
    Lost(String),
}

/// Counters for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Lines written, resends included.
    pub lines_sent: u64,
    pub resends: u64,
    /// Times the watchdog assumed an `ok` was lost.
    pub lost_oks: u64,
    /// Temperature reports received (autoreport, wait reports and `M105` answers).
    pub temperature_reports: u64,
}

struct Job {
    name: String,
    reader: BufReader<File>,
    total: u64,
    read: u64,
    eof: bool,
    paused: bool,
    /// The line number of the `M400` queued after the file's last line: its `ok` ends the job.
    end_line: Option<u64>,
    layer: Option<u32>,
    layers: Option<u32>,
    /// Computed when pausing, from the position the job had reached; sent on resume.
    restore: Vec<String>,
}

/// The motion state implied by what we sent, so that pause can park and resume can restore.
#[derive(Debug, Clone, Copy, Default)]
struct Tracker {
    pos: [Option<f64>; 4],
    relative: bool,
    e_relative: bool,
    feed: Option<f64>,
}

impl Tracker {
    fn apply(&mut self, cmd: &str) {
        match command_word(cmd).as_str() {
            "G0" | "G1" | "G2" | "G3" => {
                if let Some(f) = param(cmd, 'F') {
                    self.feed = Some(f);
                }
                for (i, axis) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = param(cmd, axis) {
                        let rel = if i == 3 { self.e_relative } else { self.relative };
                        self.pos[i] = if rel { self.pos[i].map(|p| p + v) } else { Some(v) };
                    }
                }
            }
            "G28" => {
                let any = ['X', 'Y', 'Z'].iter().any(|&a| cmd.to_ascii_uppercase()[3..].contains(a));
                for (i, axis) in ['X', 'Y', 'Z'].into_iter().enumerate() {
                    if !any || cmd.to_ascii_uppercase()[3..].contains(axis) {
                        self.pos[i] = Some(0.0);
                    }
                }
            }
            "G90" | "G91" => {
                self.relative = command_word(cmd) == "G91";
                self.e_relative = self.relative;
            }
            "M82" => self.e_relative = false,
            "M83" => self.e_relative = true,
            "G92" => {
                for (i, axis) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = param(cmd, axis) {
                        self.pos[i] = Some(v);
                    }
                }
            }
            _ => {}
        }
    }

    fn position(&self) -> Option<Position> {
        let [x, y, z, e] = self.pos;
        Some(Position { x: x? as f32, y: y? as f32, z: z? as f32, e: e.unwrap_or(0.0) as f32 })
    }
}

/// Where a line waiting to be sent came from.
#[derive(PartialEq)]
enum Origin {
    User,
    Poll,
    Internal,
}

pub(crate) struct Session<'a, S> {
    rd: BufReader<ReadHalf<S>>,
    wr: WriteHalf<S>,
    cmds: &'a mut mpsc::Receiver<Command>,
    status: &'a watch::Sender<PrinterStatus>,
    stats: &'a watch::Sender<LinkStats>,
    opts: &'a MarlinOptions,
    inbuf: Vec<u8>,
    // Handshake.
    linked: bool,
    next_hello: Option<Instant>,
    hello_deadline: Instant,
    // Numbering, history and flow control.
    next_number: u64,
    send_ptr: u64,
    history: VecDeque<(u64, String)>,
    inflight: u64,
    max_free_slots: Option<u32>,
    resend_guard: Option<(u64, u64)>,
    watchdog: Option<Instant>,
    silent_firings: u32,
    heard_since_firing: bool,
    // Work.
    pending: VecDeque<(String, Origin)>,
    job: Option<Job>,
    tracker: Tracker,
    halted: bool,
    autoreport: bool,
    next_poll: Option<Instant>,
    last_progress: Instant,
    firmware: FirmwareInfo,
}

impl<'a, S: AsyncRead + AsyncWrite> Session<'a, S> {
    pub(crate) fn new(
        io: S,
        cmds: &'a mut mpsc::Receiver<Command>,
        status: &'a watch::Sender<PrinterStatus>,
        stats: &'a watch::Sender<LinkStats>,
        opts: &'a MarlinOptions,
    ) -> Self {
        let (rd, wr) = tokio::io::split(io);
        Self {
            rd: BufReader::with_capacity(8192, rd),
            wr,
            cmds,
            status,
            stats,
            opts,
            inbuf: Vec::with_capacity(256),
            linked: false,
            next_hello: Some(Instant::now()),
            hello_deadline: Instant::now() + opts.handshake_timeout,
            next_number: 1,
            send_ptr: 1,
            history: VecDeque::with_capacity(HISTORY),
            inflight: 0,
            max_free_slots: None,
            resend_guard: None,
            watchdog: None,
            silent_firings: 0,
            heard_since_firing: false,
            pending: VecDeque::new(),
            job: None,
            tracker: Tracker::default(),
            halted: false,
            autoreport: false,
            next_poll: None,
            last_progress: Instant::now(),
            firmware: FirmwareInfo::default(),
        }
    }

    pub(crate) async fn run(mut self) -> End {
        self.status.send_modify(|s| {
            s.state = PrinterState::Connecting;
            s.message = Some("Waiting for the printer to answer M110".into());
        });
        match self.main_loop().await {
            Ok(end) => end,
            Err(e) => {
                let why = format!("connection lost: {e}");
                self.fail_job(&why);
                End::Lost(why)
            }
        }
    }

    async fn main_loop(&mut self) -> std::io::Result<End> {
        loop {
            self.fill_window().await?;
            let hello = if self.linked { None } else { self.next_hello };
            let poll = if self.linked && !self.autoreport { self.next_poll } else { None };
            tokio::select! {
                biased;
                read = self.rd.read_until(b'\n', &mut self.inbuf) => {
                    if read? == 0 {
                        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the printer closed the connection"));
                    }
                    if self.inbuf.ends_with(b"\n") {
                        let line = String::from_utf8_lossy(&self.inbuf).trim().to_string();
                        self.inbuf.clear();
                        if !line.is_empty() {
                            self.on_line(&line).await?;
                        }
                    }
                }
                cmd = self.cmds.recv() => match cmd {
                    None | Some(Command::Disconnect) => return Ok(End::Disconnect),
                    Some(cmd) => self.on_command(cmd).await?,
                },
                _ = sleep_until_opt(self.watchdog) => self.on_watchdog()?,
                _ = sleep_until_opt(hello) => {
                    if Instant::now() >= self.hello_deadline {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer to M110 within {:?}", self.opts.handshake_timeout),
                        ));
                    }
                    self.write_raw(&frame(0, "M110 N0")).await?;
                    self.next_hello = Some(Instant::now() + self.opts.hello_interval);
                }
                _ = sleep_until_opt(poll) => {
                    if !self.pending.iter().any(|(_, o)| *o == Origin::Poll) {
                        self.pending.push_back(("M105".into(), Origin::Poll));
                    }
                    self.next_poll = Some(Instant::now() + self.opts.temperature_interval);
                }
            }
        }
    }

    // ---- Sending -------------------------------------------------------------------------------

    fn window(&self) -> u64 {
        match self.max_free_slots {
            Some(b) if self.opts.windowed => u64::from(b + 1).clamp(1, self.opts.max_window as u64),
            _ => 1,
        }
    }

    async fn fill_window(&mut self) -> std::io::Result<()> {
        while self.linked && !self.halted && self.inflight < self.window() {
            let line = if self.send_ptr < self.next_number {
                match self.history.iter().find(|(n, _)| *n == self.send_ptr) {
                    Some((n, cmd)) => frame(*n, cmd),
                    None => {
                        // Older than our history: nothing sensible to resend, carry on with new lines.
                        tracing::warn!(line = self.send_ptr, "printer asked for a line we no longer have");
                        self.send_ptr = self.next_number;
                        continue;
                    }
                }
            } else {
                let Some(cmd) = self.next_command().await? else { break };
                let n = self.next_number;
                self.next_number += 1;
                self.tracker.apply(&cmd);
                if self.history.len() == HISTORY {
                    self.history.pop_front();
                }
                let framed = frame(n, &cmd);
                self.history.push_back((n, cmd));
                framed
            };
            self.send_ptr += 1;
            self.inflight += 1;
            if self.inflight == 1 {
                self.watchdog = Some(Instant::now() + self.watchdog_timeout());
            }
            self.write_raw(&line).await?;
            self.stats.send_modify(|s| s.lines_sent += 1);
        }
        self.publish_progress(false);
        Ok(())
    }

    /// The next command to number and send: queued commands first, then the job's file.
    async fn next_command(&mut self) -> std::io::Result<Option<String>> {
        if let Some((cmd, _)) = self.pending.pop_front() {
            return Ok(Some(cmd));
        }
        let Some(job) = self.job.as_mut() else { return Ok(None) };
        if job.paused || job.eof {
            return Ok(None);
        }
        let mut raw = String::new();
        loop {
            raw.clear();
            let n = job.reader.read_line(&mut raw).await?;
            if n == 0 {
                job.eof = true;
                // The last `ok`s come when moves are planned, not done; M400's comes when motion stops.
                let end = self.next_number;
                job.end_line = Some(end);
                self.status.send_modify(|s| s.state = PrinterState::Finishing);
                return Ok(Some("M400".into()));
            }
            job.read += n as u64;
            let trimmed = raw.trim();
            if let Some(layer) = trimmed.strip_prefix(";LAYER:") {
                job.layer = layer.trim().parse().ok();
            } else if let Some(count) = trimmed.strip_prefix(";LAYER_COUNT:") {
                job.layers = count.trim().parse().ok();
            }
            if let Some(cmd) = strip_comment(&raw) {
                if command_word(cmd) == "M112" {
                    self.emergency_stop().await?;
                    return Ok(None);
                }
                return Ok(Some(cmd.to_string()));
            }
        }
    }

    async fn write_raw(&mut self, line: &str) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.wr.write_all(&bytes).await?;
        self.wr.flush().await
    }

    // ---- Receiving -----------------------------------------------------------------------------

    async fn on_line(&mut self, line: &str) -> std::io::Result<()> {
        tracing::trace!(target: "printers::marlin::rx", "{line}");
        self.heard_since_firing = true;
        match Response::parse(line) {
            Response::Ok { line: n, buffer, temps, .. } => {
                if !self.linked {
                    self.on_linked();
                    return Ok(());
                }
                self.inflight = self.inflight.saturating_sub(1);
                if let (Some(n), Some(free)) = (n, buffer) {
                    let max = self.max_free_slots.get_or_insert(free);
                    *max = (*max).max(free);
                    // ADVANCED_OK says exactly what is still unanswered: lines the printer has not
                    // received plus commands waiting in its queue. That heals a lost `ok` at once.
                    if self.resend_guard.is_none() && n < self.send_ptr {
                        let unanswered = (self.send_ptr - 1 - n) + u64::from(max.saturating_sub(free));
                        self.inflight = self.inflight.min(unanswered);
                    }
                }
                if let Some(t) = temps {
                    self.on_temps(t);
                }
                self.resend_guard = None;
                self.rearm_watchdog();
                self.check_job_end();
            }
            Response::Busy => self.rearm_watchdog(),
            Response::Resend(n) => self.on_resend(n),
            Response::LineError(text) => tracing::debug!("printer reported a line error: {text}"),
            Response::FatalError(text) => self.on_fatal(&text),
            Response::Start => {
                if self.linked {
                    self.on_reset();
                }
                if !self.linked {
                    // Fresh boot: say hello now rather than waiting for the next interval.
                    self.next_hello = Some(Instant::now());
                }
            }
            Response::Temperatures(t) => self.on_temps(t),
            Response::Position(p) => {
                self.status.send_if_modified(|s| replace(&mut s.position, Some(p)));
            }
            Response::Firmware(info) => {
                self.firmware.name = info.name;
                self.firmware.fields = info.fields;
                self.publish_firmware();
            }
            Response::Capability(name, on) => {
                if on && !self.firmware.has(&name) {
                    self.firmware.capabilities.push(name.clone());
                    self.publish_firmware();
                }
                if on && name == "AUTOREPORT_TEMP" && !self.autoreport {
                    self.autoreport = true;
                    let secs = self.opts.temperature_interval.as_secs().max(1);
                    self.pending.push_back((format!("M155 S{secs}"), Origin::Internal));
                }
            }
            Response::Other(text) => tracing::debug!(target: "printers::marlin::rx", "{text}"),
        }
        Ok(())
    }

    fn on_linked(&mut self) {
        self.linked = true;
        self.next_hello = None;
        self.next_number = 1;
        self.send_ptr = 1;
        self.inflight = 0;
        self.history.clear();
        self.resend_guard = None;
        self.watchdog = None;
        self.halted = false;
        self.autoreport = false;
        self.max_free_slots = None;
        self.firmware = FirmwareInfo::default();
        self.pending.retain(|(_, o)| *o == Origin::User);
        self.pending.push_front(("M115".into(), Origin::Internal));
        self.next_poll = Some(Instant::now() + self.opts.temperature_interval);
        self.status.send_modify(|s| {
            if s.state == PrinterState::Connecting || s.state == PrinterState::Disconnected {
                s.state = PrinterState::Idle;
                s.message = None;
            }
        });
    }

    fn on_reset(&mut self) {
        tracing::warn!("the printer reset (it sent `start`)");
        self.linked = false;
        self.hello_deadline = Instant::now() + self.opts.handshake_timeout;
        if self.job.is_some() {
            self.fail_job("The printer reset during the print (it sent `start`); the job cannot continue");
        } else {
            self.status.send_modify(|s| s.state = PrinterState::Connecting);
        }
        self.pending.clear();
        self.inflight = 0;
    }

    fn on_resend(&mut self, n: u64) {
        if let Some((target, left)) = self.resend_guard {
            // Lines that were already on their way after the bad one each draw the same request.
            if target == n && left > 0 {
                self.resend_guard = Some((target, left - 1));
                return;
            }
        }
        if n >= self.send_ptr {
            // It wants the line we were about to send anyway (it saw a duplicate): carry on.
            return;
        }
        let after = self.send_ptr - 1 - n;
        tracing::debug!(line = n, "printer asked for a resend");
        self.resend_guard = Some((n, after));
        self.send_ptr = n;
        self.stats.send_modify(|s| s.resends += 1);
    }

    fn on_fatal(&mut self, text: &str) {
        tracing::error!("printer error: {text}");
        // A halted board answers nothing more; waiting for `ok`s would only trip the watchdog.
        self.halted = true;
        self.pending.clear();
        self.inflight = 0;
        self.watchdog = None;
        if self.job.is_some() {
            self.fail_job(text);
        } else {
            // Keep the first error: `kill() called!` usually follows the one that explains it.
            self.status.send_modify(|s| {
                if s.state != PrinterState::Error {
                    s.state = PrinterState::Error;
                    s.message = Some(text.to_string());
                    s.last_error = Some(text.to_string());
                }
            });
        }
    }

    fn on_temps(&mut self, t: super::protocol::Temps) {
        self.stats.send_modify(|s| s.temperature_reports += 1);
        self.status.send_if_modified(|s| {
            let mut changed = false;
            if let Some(h) = t.hotend {
                changed |= replace(&mut s.hotend, h);
            }
            if let Some(b) = t.bed {
                changed |= replace(&mut s.bed, b);
            }
            changed
        });
    }

    fn rearm_watchdog(&mut self) {
        self.silent_firings = 0;
        self.watchdog = (self.inflight > 0).then(|| Instant::now() + self.watchdog_timeout());
    }

    /// How long to wait for the next `ok` or `busy:`. A command that blocks (homing, heating, a
    /// dwell) answers only when done, and Marlin's first keepalive comes `busy_interval` after it
    /// starts; without this margin every such command would look like a lost `ok`, and each false
    /// alarm puts one more line in flight for the rest of the print.
    fn watchdog_timeout(&self) -> Duration {
        let first_unanswered = self.send_ptr.saturating_sub(self.inflight);
        let blocking = self
            .history
            .iter()
            .rev()
            .take_while(|(n, _)| *n >= first_unanswered)
            .any(|(n, cmd)| *n < self.send_ptr && BLOCKING.contains(&command_word(cmd).as_str()));
        if blocking {
            self.opts.ok_timeout + self.opts.busy_interval
        } else {
            self.opts.ok_timeout
        }
    }

    fn on_watchdog(&mut self) -> std::io::Result<()> {
        if self.heard_since_firing {
            self.silent_firings = 0;
        } else {
            self.silent_firings += 1;
            if self.silent_firings >= SILENT_FIRINGS_FOR_DEAD {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the printer stopped answering"));
            }
        }
        self.heard_since_firing = false;
        if self.inflight > 0 {
            tracing::warn!(timeout = ?self.opts.ok_timeout, "no `ok` in time; assuming it was lost");
            self.inflight -= 1;
            self.stats.send_modify(|s| s.lost_oks += 1);
            self.check_job_end();
        }
        self.watchdog = (self.inflight > 0).then(|| Instant::now() + self.watchdog_timeout());
        Ok(())
    }

    // ---- Jobs and commands ---------------------------------------------------------------------

    fn check_job_end(&mut self) {
        let Some(job) = &self.job else { return };
        let Some(end) = job.end_line else { return };
        let acked_all = self.send_ptr > end && self.inflight == 0;
        if acked_all {
            self.publish_progress(true);
            let Some(job) = &self.job else { return };
            let name = job.name.clone();
            let total = job.total;
            self.job = None;
            self.status.send_modify(|s| {
                s.state = PrinterState::Idle;
                s.progress = Some(1.0);
                s.bytes = Some(ByteProgress { done: total, total });
                s.message = Some(format!("Finished {name}"));
            });
        }
    }

    fn fail_job(&mut self, why: &str) {
        self.job = None;
        self.status.send_modify(|s| {
            s.state = PrinterState::Error;
            s.message = Some(why.to_string());
            s.last_error = Some(why.to_string());
        });
    }

    fn publish_progress(&mut self, force: bool) {
        if !force && self.last_progress.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last_progress = Instant::now();
        let position = self.tracker.position();
        let job = self.job.as_ref().map(|j| (j.read, j.total, j.layer, j.layers));
        self.status.send_if_modified(|s| {
            let keep = s.position;
            let mut changed = replace(&mut s.position, position.or(keep));
            if let Some((read, total, layer, layers)) = job {
                let p = if total > 0 { read as f32 / total as f32 } else { 1.0 };
                changed |= replace(&mut s.bytes, Some(ByteProgress { done: read, total }));
                changed |= replace(&mut s.progress, Some(p));
                changed |= replace(&mut s.current_layer, layer);
                changed |= replace(&mut s.total_layers, layers);
            }
            changed
        });
    }

    fn publish_firmware(&self) {
        let fw = self.firmware.clone();
        self.status.send_modify(|s| s.firmware = Some(fw));
    }

    async fn on_command(&mut self, cmd: Command) -> std::io::Result<()> {
        match cmd {
            Command::Start { name, path, reply } => {
                let r = self.start(name, path).await;
                let _ = reply.send(r);
            }
            Command::Pause(reply) => {
                let restore = self.restore_script();
                let r = match self.job.as_mut() {
                    Some(job) if !job.paused && !job.eof => {
                        job.paused = true;
                        job.restore = restore;
                        let script = self.park_script();
                        self.pending.extend(script.into_iter().map(|c| (c, Origin::Internal)));
                        self.status.send_modify(|s| {
                            s.state = PrinterState::Paused;
                            s.message = Some("Paused".into());
                        });
                        Ok(())
                    }
                    Some(_) => Err(DriverError::Busy("the job is already paused or finishing".into())),
                    None => Err(DriverError::NotPrinting),
                };
                let _ = reply.send(r);
            }
            Command::Resume(reply) => {
                let r = match self.job.as_mut() {
                    Some(job) if job.paused => {
                        job.paused = false;
                        let restore = std::mem::take(&mut job.restore);
                        self.pending.extend(restore.into_iter().map(|c| (c, Origin::Internal)));
                        self.status.send_modify(|s| {
                            s.state = PrinterState::Printing;
                            s.message = None;
                        });
                        Ok(())
                    }
                    _ => Err(DriverError::NotPrinting),
                };
                let _ = reply.send(r);
            }
            Command::Cancel(reply) => {
                let r = match self.job.take() {
                    Some(job) => {
                        if self.firmware.has("EMERGENCY_PARSER") {
                            // Breaks an M109/M190 wait, so the cancel does not queue behind heating.
                            self.write_raw("M108").await?;
                        }
                        self.pending.clear();
                        let script = self.cancel_script();
                        self.pending.extend(script.into_iter().map(|c| (c, Origin::Internal)));
                        self.status.send_modify(|s| {
                            s.state = PrinterState::Idle;
                            s.message = Some(format!("Cancelled {}", job.name));
                        });
                        Ok(())
                    }
                    None => Err(DriverError::NotPrinting),
                };
                let _ = reply.send(r);
            }
            Command::Gcode(lines, reply) => {
                let r = if !self.linked {
                    Err(DriverError::NotConnected)
                } else {
                    for line in lines {
                        let Some(cmd) = strip_comment(&line) else { continue };
                        if command_word(cmd) == "M112" {
                            self.emergency_stop().await?;
                            break;
                        }
                        if self.halted && self.job.is_none() {
                            // The operator is trying to recover (M999 and the like): let it through.
                            self.halted = false;
                            self.status.send_modify(|s| {
                                s.state = PrinterState::Idle;
                                s.message = None;
                            });
                        }
                        self.pending.push_back((cmd.to_string(), Origin::User));
                    }
                    Ok(())
                };
                let _ = reply.send(r);
            }
            Command::Disconnect => {}
        }
        Ok(())
    }

    async fn start(&mut self, name: String, path: PathBuf) -> Result<(), DriverError> {
        if !self.linked {
            return Err(DriverError::NotConnected);
        }
        if self.job.is_some() {
            return Err(DriverError::Busy("a job is running".into()));
        }
        let file =
            File::open(&path).await.map_err(|source| DriverError::File { path: path.display().to_string(), source })?;
        let total = file
            .metadata()
            .await
            .map_err(|source| DriverError::File { path: path.display().to_string(), source })?
            .len();
        self.halted = false;
        self.job = Some(Job {
            name: name.clone(),
            reader: BufReader::with_capacity(64 * 1024, file),
            total,
            read: 0,
            eof: false,
            paused: false,
            end_line: None,
            layer: None,
            layers: None,
            restore: Vec::new(),
        });
        self.status.send_modify(|s| {
            s.state = PrinterState::Printing;
            s.file = Some(name);
            s.message = None;
            s.progress = Some(0.0);
            s.bytes = Some(ByteProgress { done: 0, total });
            s.current_layer = None;
            s.total_layers = None;
        });
        Ok(())
    }

    async fn emergency_stop(&mut self) -> std::io::Result<()> {
        // Unnumbered and ahead of everything: the emergency parser acts on it as it arrives.
        self.write_raw("M112").await?;
        self.halted = true;
        self.pending.clear();
        self.inflight = 0;
        self.watchdog = None;
        let why = "Emergency stop (M112) sent by the host";
        if self.job.is_some() {
            self.fail_job(why);
        } else {
            self.status.send_modify(|s| {
                s.state = PrinterState::Error;
                s.message = Some(why.into());
                s.last_error = Some(why.into());
            });
        }
        Ok(())
    }

    fn park_script(&self) -> Vec<String> {
        let p = &self.opts.park;
        let mut s = vec![
            "M400".into(),
            "G91".into(),
            format!("G1 E-{:.2} F2400", p.retract_mm),
            format!("G1 Z{:.2} F600", p.lift_mm),
            "G90".into(),
        ];
        if let Some((x, y)) = p.xy {
            s.push(format!("G1 X{x:.2} Y{y:.2} F6000"));
        }
        s
    }

    fn restore_script(&self) -> Vec<String> {
        let t = &self.tracker;
        let p = &self.opts.park;
        let mut s = vec!["G90".to_string()];
        if let (Some(x), Some(y)) = (t.pos[0], t.pos[1]) {
            s.push(format!("G1 X{x:.3} Y{y:.3} F6000"));
        }
        match t.pos[2] {
            Some(z) => s.push(format!("G1 Z{z:.3} F600")),
            None => s.extend(["G91".into(), format!("G1 Z-{:.2} F600", p.lift_mm), "G90".into()]),
        }
        s.extend(["G91".to_string(), format!("G1 E{:.2} F2400", p.retract_mm)]);
        s.push(if t.relative { "G91" } else { "G90" }.into());
        s.push(if t.e_relative { "M83" } else { "M82" }.into());
        if let Some(f) = t.feed {
            s.push(format!("G1 F{f}"));
        }
        s
    }

    fn cancel_script(&self) -> Vec<String> {
        let p = &self.opts.park;
        let mut s: Vec<String> = vec![
            "M104 S0".into(),
            "M140 S0".into(),
            "M106 S0".into(),
            "G91".into(),
            format!("G1 Z{:.2} F600", p.lift_mm),
            "G90".into(),
        ];
        if let Some((x, y)) = p.xy {
            s.push(format!("G1 X{x:.2} Y{y:.2} F6000"));
        }
        s.push("M84".into());
        s
    }
}

/// Sets `*slot = value`, returning whether it changed.
fn replace<T: PartialEq>(slot: &mut T, value: T) -> bool {
    if *slot == value {
        false
    } else {
        *slot = value;
        true
    }
}
