//! The printer drivers against real peers and simulators
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod discovery;
mod fuzz_seeds;
mod marlin_serial;
mod moonraker;
mod octoprint;
mod peers;
