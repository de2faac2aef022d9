//! The `printfarm` binary: parse the command line, run, and report errors once at the edge.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("printfarm: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
