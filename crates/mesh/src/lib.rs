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
//! - [`io`]: reading and writing STL, 3MF, glTF/GLB and OBJ, with limits for untrusted files.
//! - [`MeshError`]: what can go wrong when a mesh is built from untrusted data.
//! - [`topology`]: edge map (boundary, non-manifold and flipped edges, shells, hole loops).
//! - [`repair`]: weld, drop bad faces, orient outward, fill small holes, report what is left.
//! - [`validate`]: printable or not, with reasons a student understands.
//! - [`ops`]: transforms, bed placement, lay flat, scale to fit, plane cut, merge/split, arrange,
//!   normals, decimation.
//! - [`primitives`]: procedural box, UV sphere, cylinder and torus.
//! - [`thumbnail`]: a software renderer for shaded PNG previews (library cards, G-code thumbnails).
//! - [`marching_cubes`]: signed-distance grid → closed, welded 2-manifold mesh.

mod aabb;
mod indexed;
pub mod io;
pub mod marching_cubes;
mod model;
pub mod ops;
pub mod primitives;
pub mod repair;
pub mod thumbnail;
pub mod topology;
pub mod validate;
pub mod weld;

pub use aabb::Aabb;
pub use indexed::{IndexedMesh, MeshError};
pub use model::{Model, ModelObject, Rgba};

/// A point or vector in model space, millimetres.
pub type Vec3 = [f32; 3];
