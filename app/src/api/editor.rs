//! Server functions for the editor and sending a model to print.
