//! The scheduler's property tests
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod properties;
