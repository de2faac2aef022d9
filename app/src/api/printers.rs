//! Server functions for the printers, library and settings pages.
