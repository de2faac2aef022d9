//! Marlin/RepRap printers driven directly: over USB serial or a raw TCP socket, the host streams
//! G-code itself with line numbers and checksums.

pub mod protocol;
