//! The editor's 3D view: WebGL2 from Rust (web-sys). It only displays meshes and returns transforms;
//! the geometry truth stays in `crates/mesh`.
