//! Server functions for the queue and job pages.
