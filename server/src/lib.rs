//! # server — the printfarm appliance
//!
//! Wires the library crates into one process: an axum server that renders the Leptos app, serves the
//! REST and WebSocket API, owns the SQLite database and runs the farm (printer connections, and later
//! the scheduler and workers). `main.rs` is only the CLI edge.
//!
//! Map:
//! - [`config`]: `printfarm.toml`, environment overrides, command-line flags.
//! - [`db`]: the SQLite database, its migrations and the typed repositories.
//! - [`farm`]: live printer state, the dispatcher (slicing, scheduling, printing, recovery), time
//!   windows, notifications and the event bus that feeds the browsers.
//! - [`generate`]: text-to-3D as a service — blocklist, quotas, cache, fair queue, batched Shap-E worker.
//! - [`library`]: model files parsed safely and stored under server-chosen names.
//! - [`metrics`]: Prometheus `/metrics` (requests, latencies, slicing times, jobs and printers by state).
//! - [`auth`]: accounts — sign-in, sessions, API keys, kiosk PINs, CSRF and the per-route role table.
//! - [`secrets`]: printer credentials sealed at rest with the box's key (`secret.key`), bound to their address.
//! - [`reach`]: which addresses and serial ports printers, discovery and the webhook may use.
//! - [`api`]: the farm's REST endpoints (`/api/v1/jobs`, `queue`, `printers`, `spools`, `stats`…).
//! - [`octoprint`]: the slice of OctoPrint's API slicers upload G-code with (queued, printed as it is).
//! - [`openapi`]: the API's OpenAPI 3.1 document (`/api/v1/openapi.json`) and docs page (`/api/docs`).
//! - [`connections`]: accepting connections: header and body timeouts, connections per address, early 413.
//! - [`http`]: routes (pages, `/healthz`, `/api/v1/...`, the event stream) and serving with graceful shutdown.
//! - [`cli`]: the command-line interface.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connections;
pub mod db;
pub mod desks;
pub mod farm;
pub mod generate;
pub mod http;
pub mod library;
pub mod metrics;
pub mod octoprint;
pub mod openapi;
pub mod reach;
pub mod secrets;
