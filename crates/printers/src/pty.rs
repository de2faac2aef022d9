//! A pseudo-terminal pair with an async master side, so the simulator can sit behind a real
//! `/dev/pts/N` that any serial client (our driver, OctoPrint, minicom) opens like a USB printer.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use std::os::unix::fs::OpenOptionsExt;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_serial::{SerialPort, SerialStream};

/// The master side of a pty, readable and writable from tokio. The slave stays open for as long as
/// this lives, so clients may close and reopen the device path without the master seeing a hang-up.
pub struct PtyMaster {
    master: SerialStream,
    _slave: std::fs::File,
    path: PathBuf,
}

impl PtyMaster {
    /// Opens a new pty whose slave is in raw mode (no echo, no line editing, no CR/LF translation).
    pub fn open() -> io::Result<Self> {
        let (master, slave) = SerialStream::pair().map_err(io::Error::from)?;
        let path = slave.name().map(PathBuf::from).ok_or_else(|| io::Error::other("pty has no name"))?;
        // `pair` left the slave raw but flock()ed; hold it open through a plain file instead, so
        // clients that take their own exclusive lock (serialport does) can open the device.
        let keep_open = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            // Opening the slave must not make it our controlling terminal.
            .custom_flags(libc::O_NOCTTY)
            .open(&path)?;
        drop(slave);
        Ok(Self { master, _slave: keep_open, path })
    }

    /// The device a client opens, e.g. `/dev/pts/7`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsyncRead for PtyMaster {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.master).poll_read(cx, buf)
    }
}

impl AsyncWrite for PtyMaster {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.master).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.master).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.master).poll_shutdown(cx)
    }
}
