//! # slicer — turns placed meshes into G-code
//!
//! Input: meshes from [`mesh`] placed on a plate, plus printer, material and quality profiles.
//! Output: G-code with metadata (time, filament, thumbnails) and per-layer previews.
//!
//! Map:
//! - [`settings`]: printer, material and quality profiles ([`Profile`]).
//! - [`layers`]: where each layer's slicing plane sits.

pub mod geom;
pub mod index;
pub mod infill;
pub mod layers;
pub mod section;
pub mod settings;
pub mod toolpath;

pub use settings::{Flavour, MaterialProfile, PrinterProfile, Profile, QualityProfile};

/// Why a plate could not be sliced.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SliceError {
    #[error("layer height must be positive and at most the nozzle diameter, got {0} mm")]
    BadLayerHeight(f32),
}
