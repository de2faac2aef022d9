//! mesh's integration tests (wasm: only `wasm` runs; the others are native-only)
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod fuzz_seeds;
mod geometry;
mod io;
mod render;
mod wasm;
