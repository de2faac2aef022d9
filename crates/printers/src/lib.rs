//! # printers — how the farm touches hardware
//!
//! Map:
//! - [`status`]: the state and readings every driver reports ([`PrinterStatus`], [`PrinterState`]).
//! - [`driver`]: the [`PrinterDriver`] trait every backend implements, and [`DriverError`].
//! - [`marlin`]: Marlin/RepRap over USB serial or raw TCP — the host streams G-code itself
//!   ([`marlin::MarlinDriver`]); [`marlin::protocol`] is the line protocol both ends share.
//! - [`discover`]: serial ports on known printer USB bridges (probed with `M115`) and OctoPrint,
//!   Moonraker and HTTP services announced over mDNS.
//! - [`octoprint`]: printers behind OctoPrint, over its REST API.
//! - [`moonraker`]: Klipper printers behind Moonraker, over its JSON-RPC websocket and HTTP upload.
//! - [`sim`]: the demo farm's simulated printer, and [`sim::marlin`], a Marlin board simulated at the
//!   protocol level (in-process or behind a pseudo-terminal) with fault injection.
//! - [`pty`]: pseudo-terminals with an async master side, for the simulator.

pub mod discover;
pub mod driver;
pub mod marlin;
pub mod moonraker;
pub mod octoprint;
pub mod pty;
pub mod sim;
pub mod status;

pub use driver::{DriverError, PrinterDriver, RemoteFile};
pub use sim::SimulatedPrinter;
pub use status::{ByteProgress, FirmwareInfo, Position, PrinterState, PrinterStatus, Temperature};
