//! Marlin/RepRap printers driven directly: over USB serial or a raw TCP socket (ESP3D, ser2net,
//! network-enabled boards), the host streams G-code itself with line numbers and checksums.
//!
//! [`MarlinDriver`] is the handle; a task per printer owns the link, reopens it after a loss, and
//! runs a [`session`] on it. The protocol rules live in [`protocol`].

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::driver::BoxFuture;
use crate::{DriverError, PrinterDriver, PrinterState, PrinterStatus, RemoteFile};

pub mod protocol;
mod session;

pub use session::LinkStats;
use session::{Command, End, Session};

/// A byte stream to a printer.
pub trait Link: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Link for T {}

/// Opens a new link each time it is called (first connect and every reconnect).
pub type Connector = Arc<dyn Fn() -> BoxFuture<'static, io::Result<Box<dyn Link>>> + Send + Sync>;

/// Where the head goes when a job is paused or cancelled.
#[derive(Debug, Clone)]
pub struct ParkOptions {
    /// Filament pulled back before moving away, mm.
    pub retract_mm: f32,
    /// How far Z rises, mm (relative, so it is safe wherever the head is).
    pub lift_mm: f32,
    /// Where X/Y go; `None` leaves them where they are.
    pub xy: Option<(f32, f32)>,
}

/// Timings and limits of the serial driver.
#[derive(Debug, Clone)]
pub struct MarlinOptions {
    /// Without an `ok` or `busy:` for this long, the driver assumes the `ok` was lost and sends on.
    /// OctoPrint waits 30 s; Marlin's keepalive prints `busy:` every 2 s while a command blocks.
    pub ok_timeout: Duration,
    /// Marlin's keepalive interval (`HOST_KEEPALIVE_FEATURE`, 2 s unless `M113` changed it): while a
    /// blocking command (G28, M109, G4…) is unanswered the watchdog waits this much longer.
    pub busy_interval: Duration,
    /// How long the printer has to answer `M110` after the link opens (a DTR reset takes ~2 s).
    pub handshake_timeout: Duration,
    pub hello_interval: Duration,
    /// Pause between attempts to reopen a lost link.
    pub reconnect_interval: Duration,
    /// `M155 S<n>` autoreport interval, or the `M105` polling interval without it.
    pub temperature_interval: Duration,
    /// Use `ADVANCED_OK`'s free-buffer count to keep several lines in flight; off means ping-pong.
    pub windowed: bool,
    /// The most lines in flight, whatever the firmware reports.
    pub max_window: usize,
    pub park: ParkOptions,
}

impl Default for MarlinOptions {
    fn default() -> Self {
        Self {
            ok_timeout: Duration::from_millis(1500),
            busy_interval: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(10),
            hello_interval: Duration::from_millis(1000),
            reconnect_interval: Duration::from_secs(1),
            temperature_interval: Duration::from_secs(2),
            windowed: true,
            max_window: 8,
            park: ParkOptions { retract_mm: 2.0, lift_mm: 10.0, xy: Some((0.0, 0.0)) },
        }
    }
}

/// A Marlin printer on a serial port, a TCP socket, or any link a [`Connector`] opens.
pub struct MarlinDriver {
    label: String,
    connector: Connector,
    options: MarlinOptions,
    status: watch::Sender<PrinterStatus>,
    stats: watch::Sender<LinkStats>,
    files: Mutex<HashMap<String, PathBuf>>,
    task: Mutex<Option<(mpsc::Sender<Command>, JoinHandle<()>)>>,
}

impl MarlinDriver {
    /// A printer on a serial port such as `/dev/ttyUSB0` at `baud` (115200 and 250000 are usual).
    pub fn serial(path: impl Into<String>, baud: u32, options: MarlinOptions) -> Self {
        let path = path.into();
        let p = path.clone();
        let connector: Connector = Arc::new(move || {
            let p = p.clone();
            Box::pin(async move {
                let port = tokio_serial::SerialStream::open(&tokio_serial::new(&p, baud))
                    .map_err(|e| io::Error::other(format!("cannot open {p}: {e}")))?;
                Ok(Box::new(port) as Box<dyn Link>)
            })
        });
        Self::with_connector(path, connector, options)
    }

    /// A printer that takes the same line protocol over TCP (ESP3D, ser2net), e.g. `10.0.0.7:23`.
    pub fn tcp(addr: impl Into<String>, options: MarlinOptions) -> Self {
        let addr = addr.into();
        let a = addr.clone();
        let connector: Connector = Arc::new(move || {
            let a = a.clone();
            Box::pin(async move {
                let s = tokio::net::TcpStream::connect(&a).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn Link>)
            })
        });
        Self::with_connector(addr, connector, options)
    }

    /// A printer reached through `connector`; `label` names it in messages.
    pub fn with_connector(label: impl Into<String>, connector: Connector, options: MarlinOptions) -> Self {
        Self {
            label: label.into(),
            connector,
            options,
            status: watch::channel(PrinterStatus::disconnected()).0,
            stats: watch::channel(LinkStats::default()).0,
            files: Mutex::new(HashMap::new()),
            task: Mutex::new(None),
        }
    }

    /// Link counters (lines sent, resends, lost `ok`s) since the driver was made.
    pub fn stats(&self) -> LinkStats {
        *self.stats.borrow()
    }

    fn sender(&self) -> Result<mpsc::Sender<Command>, DriverError> {
        let task = self.task.lock().expect("driver task lock");
        task.as_ref().map(|(tx, _)| tx.clone()).ok_or(DriverError::NotConnected)
    }

    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), DriverError>>) -> Command,
    ) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.sender()?.send(make(tx)).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }
}

impl PrinterDriver for MarlinDriver {
    fn status(&self) -> watch::Receiver<PrinterStatus> {
        self.status.subscribe()
    }

    fn connect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let mut task = self.task.lock().expect("driver task lock");
            if task.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                return Ok(());
            }
            let (tx, rx) = mpsc::channel(16);
            let handle = tokio::spawn(connection_task(
                self.label.clone(),
                self.connector.clone(),
                self.options.clone(),
                self.status.clone(),
                self.stats.clone(),
                rx,
            ));
            *task = Some((tx, handle));
            Ok(())
        })
    }

    fn disconnect(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let taken = self.task.lock().expect("driver task lock").take();
            if let Some((tx, handle)) = taken {
                let _ = tx.send(Command::Disconnect).await;
                let _ = handle.await;
            }
            Ok(())
        })
    }

    fn upload<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<RemoteFile, DriverError>> {
        Box::pin(async move {
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|source| DriverError::File { path: path.display().to_string(), source })?;
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            self.files.lock().expect("driver files lock").insert(name.clone(), path.to_path_buf());
            Ok(RemoteFile { name, size: meta.len() })
        })
    }

    fn start<'a>(&'a self, file: &'a str) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            let path = self.files.lock().expect("driver files lock").get(file).cloned();
            let path = path.ok_or_else(|| DriverError::UnknownFile(file.to_string()))?;
            self.request(|reply| Command::Start { name: file.to_string(), path, reply }).await
        })
    }

    fn pause(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.request(Command::Pause))
    }

    fn resume(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.request(Command::Resume))
    }

    fn cancel(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.request(Command::Cancel))
    }

    fn send_gcode<'a>(&'a self, lines: &'a [String]) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.request(|reply| Command::Gcode(lines.to_vec(), reply)))
    }
}

impl Drop for MarlinDriver {
    fn drop(&mut self) {
        if let Some((_, handle)) = self.task.lock().expect("driver task lock").take() {
            handle.abort();
        }
    }
}

/// Opens the link, runs sessions on it, and reopens it after a loss until told to disconnect.
async fn connection_task(
    label: String,
    connector: Connector,
    options: MarlinOptions,
    status: watch::Sender<PrinterStatus>,
    stats: watch::Sender<LinkStats>,
    mut cmds: mpsc::Receiver<Command>,
) {
    loop {
        status.send_modify(|s| {
            if s.state != PrinterState::Error {
                s.state = PrinterState::Connecting;
            }
        });
        let why = match connector().await {
            Ok(link) => match Session::new(link, &mut cmds, &status, &stats, &options).run().await {
                End::Disconnect => break,
                End::Lost(why) => why,
            },
            Err(e) => e.to_string(),
        };
        tracing::warn!(printer = %label, "{why}; retrying in {:?}", options.reconnect_interval);
        status.send_modify(|s| {
            s.state = PrinterState::Error;
            s.message = Some(why.clone());
            s.last_error = Some(why.clone());
        });
        // Wait before reopening, answering commands meanwhile so callers never hang.
        let wake = tokio::time::sleep(options.reconnect_interval);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                _ = &mut wake => break,
                cmd = cmds.recv() => match cmd {
                    None | Some(Command::Disconnect) => {
                        status.send_modify(|s| s.state = PrinterState::Disconnected);
                        return;
                    }
                    Some(cmd) => refuse(cmd),
                },
            }
        }
    }
    status.send_modify(|s| {
        s.state = PrinterState::Disconnected;
        s.message = None;
    });
}

fn refuse(cmd: Command) {
    let reply = match cmd {
        Command::Start { reply, .. } => reply,
        Command::Pause(r) | Command::Resume(r) | Command::Cancel(r) | Command::Gcode(_, r) => r,
        Command::Disconnect => return,
    };
    let _ = reply.send(Err(DriverError::NotConnected));
}
