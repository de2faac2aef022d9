//! One module per route.

pub mod create;
pub mod farm;
pub mod placeholder;
