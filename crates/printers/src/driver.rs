//! The one interface every printer backend implements, and the errors it returns.
//!
//! A driver is a handle: commands go in through methods, and status comes out through a
//! [`tokio::sync::watch`] channel, so a slow reader only ever sees the newest status and never
//! blocks the connection task. The trait is object-safe (`Box<dyn PrinterDriver>`), so the farm can
//! hold serial, OctoPrint and Moonraker printers in one list.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use tokio::sync::watch;

use crate::PrinterStatus;

/// A boxed future, so that [`PrinterDriver`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A G-code file as a streamed multipart part named after the file, with its size, for the HTTP hosts'
/// uploads: the file is read as it is sent, never loaded whole.
pub(crate) async fn file_part(path: &Path) -> Result<(reqwest::multipart::Part, u64), DriverError> {
    let file_err = |source| DriverError::File { path: path.display().to_string(), source };
    let file = tokio::fs::File::open(path).await.map_err(file_err)?;
    let size = file.metadata().await.map_err(file_err)?.len();
    let name = path.file_name().map_or_else(|| "upload.gcode".into(), |n| n.to_string_lossy().into_owned());
    Ok((reqwest::multipart::Part::stream_with_length(file, size).file_name(name), size))
}

/// The redirects an HTTP printer host may answer with: within the same scheme, host and port, at most
/// five. A redirect anywhere else is not followed (the answer stays the 3xx): it would carry the printer's
/// API key (`X-Api-Key` is not a header HTTP clients strip on a redirect) to another machine, and make the
/// box reach addresses no one typed in.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = &attempt.previous()[0];
        let next = attempt.url();
        let same_origin = next.scheme() == first.scheme()
            && next.host_str() == first.host_str()
            && next.port_or_known_default() == first.port_or_known_default();
        if same_origin && attempt.previous().len() <= 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// What can go wrong when asking a printer to do something.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the printer is not connected")]
    NotConnected,
    #[error("the printer is busy ({0})")]
    Busy(String),
    #[error("no file named {0:?} has been uploaded to this printer")]
    UnknownFile(String),
    #[error("the printer is not printing")]
    NotPrinting,
    #[error("cannot read {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("connection to the printer failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the printer refused: {0}")]
    Refused(String),
    #[error("the printer's connection task has stopped")]
    Stopped,
}

/// A file the printer (or its host) can print, as returned by [`PrinterDriver::upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The name to pass to [`PrinterDriver::start`].
    pub name: String,
    pub size: u64,
}

/// One printer connection, whatever sits in front of the printer.
pub trait PrinterDriver: Send + Sync {
    /// A receiver of the latest status; it changes whenever the printer reports something.
    fn status(&self) -> watch::Receiver<PrinterStatus>;
    /// Opens the connection (and keeps reopening it after a loss) until [`Self::disconnect`].
    fn connect(&self) -> BoxFuture<'_, Result<(), DriverError>>;
    fn disconnect(&self) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Makes `path` printable under its file name. Serial printers stream from the host's disk, so for
    /// them this only checks the file; network printers receive a copy.
    fn upload<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<RemoteFile, DriverError>>;
    fn start<'a>(&'a self, file: &'a str) -> BoxFuture<'a, Result<(), DriverError>>;
    fn pause(&self) -> BoxFuture<'_, Result<(), DriverError>>;
    fn resume(&self) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Stops the job, switches the heaters off and moves the head clear of the part.
    fn cancel(&self) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Sends raw G-code lines (home, preheat, jog); `M112` goes out at once as an emergency stop.
    fn send_gcode<'a>(&'a self, lines: &'a [String]) -> BoxFuture<'a, Result<(), DriverError>>;
}

/// Waits until the status satisfies `want`, returning that status; `None` when the driver is gone.
pub async fn wait_for(
    rx: &mut watch::Receiver<PrinterStatus>,
    mut want: impl FnMut(&PrinterStatus) -> bool,
) -> Option<PrinterStatus> {
    rx.wait_for(|s| want(s)).await.ok().map(|s| s.clone())
}
