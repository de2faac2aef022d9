//! One module per route.

pub mod farm;
pub mod placeholder;
