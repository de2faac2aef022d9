//! # mesh — Printfarm's geometry core
//!
//! Everything that touches a 3D model goes through this crate: generation writes meshes, the browser
//! editor edits them (this crate compiles to `wasm32-unknown-unknown` and runs in the page), and the
//! slicer reads them. It must therefore stay pure Rust with no I/O of its own beyond byte buffers.
//!
//! Map:
//! - [`IndexedMesh`]: welded vertices plus triangles as index triples, in millimetres.
//! - [`Aabb`]: axis-aligned bounding boxes.
//! - [`MeshError`]: what can go wrong when a mesh is built from untrusted data.
//!
//! File formats, repair, validation reports and transforms arrive with issue #3.

mod aabb;
mod indexed;

pub use aabb::Aabb;
pub use indexed::{IndexedMesh, MeshError};

/// A point or vector in model space, millimetres.
pub type Vec3 = [f32; 3];
