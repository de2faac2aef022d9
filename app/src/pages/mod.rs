//! One module per route.

pub mod account;
pub mod create;
pub mod editor;
pub mod farm;
pub mod job;
pub mod library;
pub mod login;
pub mod placeholder;
pub mod printer;
pub mod printers;
pub mod queue;
pub mod settings;
