//! The `printfarm` binary: parse the command line, run, and report errors once at the edge.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `printfarm mesh info big.stl | head` closing the pipe early is not a failure.
        Err(err) if err.chain().any(is_broken_pipe) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("printfarm: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
