//! Pieces shared by several pages.

pub mod nav;
pub mod printer_card;
pub mod sparkline;
pub mod upload;
