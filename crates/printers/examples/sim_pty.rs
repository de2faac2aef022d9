//! Runs a simulated Marlin printer behind a pseudo-terminal, for connecting other hosts to it
//! (OctoPrint in `scripts/bench-printers`, a terminal program by hand).
//!
//! Prints the device path on the first line of stdout, then serves until stdin closes; then prints
//! how many commands the printer executed and how many of them were `G1` moves.
//!
//! `cargo run -p printers --example sim_pty -- [--speedup X] [--advanced-ok]`

use printers::sim::marlin::{Faults, MarlinSim, SimConfig};
use std::io::Read;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let speedup = args
        .iter()
        .position(|a| a == "--speedup")
        .and_then(|i| args.get(i + 1))
        .map_or(f64::INFINITY, |v| v.parse().expect("--speedup takes a number"));
    let config = SimConfig { speedup, advanced_ok: args.iter().any(|a| a == "--advanced-ok"), ..SimConfig::default() };
    let sim = MarlinSim::new(config, Faults::default());
    let pty = sim.serve_pty()?;
    println!("{}", pty.path.display());
    // The printer runs on the runtime's workers while this thread waits for stdin to close.
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
        .await
        .map_err(std::io::Error::other)??;
    let log = sim.executed();
    println!("executed {} commands, {} G1 moves", log.len(), log.iter().filter(|c| c.starts_with("G1 ")).count());
    Ok(())
}
