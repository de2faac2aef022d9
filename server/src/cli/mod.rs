//! The command line: `printfarm [serve]`, plus the tool subcommands other parts of the product fill in.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod admin;
mod generate;
mod mesh_tools;
mod printer_tools;
mod slice;

use crate::config::{Config, Overrides};
use crate::db::Db;

/// Printfarm: an on-prem print-farm appliance.
#[derive(Debug, Parser)]
#[command(name = "printfarm", version, about)]
pub struct Cli {
    /// A TOML config file (also PRINTFARM_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and files live (also PRINTFARM_DATA_DIR; default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:3000 (also PRINTFARM_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Printers in the farm.
    #[command(subcommand)]
    Printers(PrintersCommand),
    /// Check, repair, convert and draw model files (STL, 3MF, glTF/GLB, OBJ).
    #[command(subcommand)]
    Mesh(mesh_tools::MeshCommand),
    /// Slice models to G-code with printer, material and quality presets.
    Slice(slice::SliceArgs),
    /// Generate a printable model from a prompt (ready-made designs, or Shap-E when installed).
    Generate(generate::GenerateArgs),
    /// Shap-E model packs: install from a USB stick, list, roll back, remove.
    #[command(subcommand)]
    Models(generate::ModelsCommand),
    /// Accounts and API keys.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum PrintersCommand {
    /// List configured printers.
    List,
    /// Look for printers: USB serial ports (probed with M115) and mDNS (OctoPrint, Moonraker, HTTP).
    Discover(printer_tools::DiscoverArgs),
    /// Print a G-code file with a progress bar: Marlin on a serial port or raw TCP (the host streams
    /// it), or through OctoPrint or Moonraker (uploaded, then started).
    Print(printer_tools::PrintArgs),
}

/// Runs the parsed command line to completion.
/// Stack per runtime worker thread (see [`run`]).
pub const RENDER_STACK_BYTES: usize = 16 << 20;

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let mut flags = Overrides { config_file: cli.config, data_dir: cli.data_dir, ..Default::default() };
    // Server-side rendering walks Leptos's deeply nested view types recursively; in a debug build the
    // editor page needs more than tokio's 2 MiB default stack per worker.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(RENDER_STACK_BYTES)
        .build()
        .context("cannot start the async runtime")?;
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => {
            flags.listen = listen;
            let config = Config::load(&flags)?;
            init_logging(&config.log, config.log_format)?;
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                let trigger = shutdown.clone();
                tokio::spawn(async move {
                    crate::http::shutdown_signal().await;
                    trigger.cancel();
                });
                crate::http::serve(config, shutdown).await
            })?;
            Ok(())
        }
        Command::Printers(PrintersCommand::List) => {
            let config = Config::load(&flags)?;
            runtime.block_on(async {
                let db = Db::open(&config.data_dir).await?;
                let printers = db.printers().list().await?;
                if printers.is_empty() {
                    println!("No printers configured in {}.", config.data_dir.display());
                }
                for p in printers {
                    println!(
                        "{:>4}  {:<20} {:<10} {}x{}x{} mm  nozzle {} mm  {}",
                        p.id,
                        p.name,
                        p.driver,
                        p.build_x_mm,
                        p.build_y_mm,
                        p.build_z_mm,
                        p.nozzle_mm,
                        p.tags.join(", ")
                    );
                }
                db.close().await;
                anyhow::Ok(())
            })
        }
        Command::Printers(PrintersCommand::Discover(args)) => printer_tools::discover(&runtime, args),
        Command::Printers(PrintersCommand::Print(args)) => printer_tools::print(&runtime, args),
        Command::Mesh(command) => mesh_tools::run(command),
        Command::Slice(args) => slice::run(args),
        Command::Generate(args) => generate::generate(args, Config::load(&flags)?.data_dir),
        Command::Models(command) => generate::models(command, Config::load(&flags)?.data_dir),
        Command::Admin(command) => admin::run(command, Config::load(&flags)?.data_dir, &runtime),
    }
}

fn init_logging(filter: &str, format: crate::config::LogFormat) -> anyhow::Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).with_context(|| format!("bad log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        // One object per line with the event's fields at the top level, so `jq 'select(.status >= 500)'`
        // and log shippers need no parsing rules.
        crate::config::LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init()
        }
        crate::config::LogFormat::Text => {
            // Colour only for people; logs to journald or a test harness stay plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_target(false).with_ansi(ansi).init()
        }
    }
    Ok(())
}
