//! # mesh — Printfarm's geometry core
//!
//! Everything that touches a 3D model goes through this crate: generation writes meshes, the browser
//! editor edits them (this crate compiles to `wasm32-unknown-unknown` and runs in the page), and the
//! slicer reads them. It stays pure Rust with no I/O of its own beyond byte buffers (and, natively,
//! files in [`io`]).
//!
//! Map:
//! - [`IndexedMesh`]: welded vertices plus triangles as index triples, in millimetres.
//! - [`Model`] / [`ModelObject`]: several named objects, each with a transform, colour and material.
//! - [`Aabb`]: axis-aligned bounding boxes.
//! - [`weld`]: triangle soup → indexed mesh; merging vertices by tolerance.
//! - [`MeshError`]: what can go wrong when a mesh is built from untrusted data.

mod aabb;
mod indexed;
mod model;
pub mod weld;

pub use aabb::Aabb;
pub use indexed::{IndexedMesh, MeshError};
pub use model::{Model, ModelObject, Rgba};

/// A point or vector in model space, millimetres.
pub type Vec3 = [f32; 3];
