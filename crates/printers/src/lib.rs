//! # printers — how the farm touches hardware
//!
//! Map:
//! - [`status`]: the state and readings every driver reports ([`PrinterStatus`], [`PrinterState`]).
//! - [`sim`]: a simulated printer with a thermal model and print jobs, used by the demo farm and tests.
//!
//! The driver interface (USB serial Marlin, OctoPrint, Moonraker) and discovery arrive with issue #5.

pub mod sim;
pub mod status;

pub use sim::SimulatedPrinter;
pub use status::{PrinterState, PrinterStatus, Temperature};
