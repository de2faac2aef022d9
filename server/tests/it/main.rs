//! The server's integration tests: the real server, database, CLI and printers, end to end
//! (one test binary per crate: each module below was its own, and each linked on its own).

mod auth;
mod cli;
mod common;
mod crash;
mod db;
mod farm;
mod farm_policy;
mod fuzz_seeds;
mod generate;
mod http;
mod mesh_cli;
mod network_restart;
mod octoprint;
mod openapi;
mod queue_forecast;
mod restart;
mod secrets;
mod security_accounts;
mod security_edge;
mod slice_cli;
