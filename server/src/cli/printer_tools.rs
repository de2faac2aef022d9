//! `printfarm printers discover` and `printfarm printers print`: the drivers in `printers`, driven
//! straight from the command line, without a server or a database.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use printers::discover::{self, ServiceKind};
use printers::marlin::{MarlinDriver, MarlinOptions};
use printers::moonraker::{MoonrakerDriver, MoonrakerOptions};
use printers::octoprint::{OctoPrintDriver, OctoPrintOptions};
use printers::{PrinterDriver, PrinterState};

/// Baud rates printers commonly use, in the order discovery tries them.
const PROBE_BAUDS: &[u32] = &[115_200, 250_000];

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// How long to listen for mDNS announcements, in milliseconds.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    mdns_ms: u64,
    /// List serial ports without opening them (no M115 probe).
    #[arg(long)]
    no_probe: bool,
    /// Also ask these hosts what they are (`/api/version`, `/server/info`), for printers without
    /// mDNS, e.g. --host http://10.0.0.7 --host http://10.0.0.8:7125.
    #[arg(long, value_name = "URL")]
    host: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("printer").required(true).args(["port", "tcp", "octoprint", "moonraker"])))]
pub struct PrintArgs {
    /// A serial port with a Marlin/RepRap printer, e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "DEVICE")]
    port: Option<String>,
    /// Baud rate for --port.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// A printer that takes G-code over raw TCP (ESP3D, ser2net), as HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// An OctoPrint instance, e.g. http://octopi.local (needs --api-key).
    #[arg(long, value_name = "URL", requires = "api_key")]
    octoprint: Option<String>,
    /// OctoPrint's API key (also PRINTFARM_OCTOPRINT_API_KEY).
    #[arg(long, value_name = "KEY", env = "PRINTFARM_OCTOPRINT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// A Moonraker (Klipper) instance, e.g. http://voron.local:7125.
    #[arg(long, value_name = "URL")]
    moonraker: Option<String>,
    /// The G-code file to print.
    file: PathBuf,
}

pub fn discover(runtime: &tokio::runtime::Runtime, args: DiscoverArgs) -> anyhow::Result<()> {
    let mut ports = discover::serial_ports().context("cannot list serial ports")?;
    runtime.block_on(async {
        if !args.no_probe {
            for port in ports.iter_mut().filter(|p| p.bridge.is_some() && !p.in_use) {
                port.probe = discover::probe_serial(&port.path, PROBE_BAUDS, Duration::from_secs(4)).await;
            }
        }
        let kinds = [ServiceKind::OctoPrint, ServiceKind::Moonraker, ServiceKind::Http];
        let mut services =
            match discover::browse_mdns(&kinds, Duration::from_millis(args.mdns_ms), discover::MdnsScope::Lan).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("warning: mDNS browsing failed: {e}");
                    Vec::new()
                }
            };
        for host in &args.host {
            match discover::probe_http(host, Duration::from_secs(5)).await {
                Some(found) => services.push(found),
                None => eprintln!("warning: no OctoPrint, Moonraker or PrusaLink answered at {host}"),
            }
        }
        if args.json {
            let doc = serde_json::json!({ "serial": ports, "network": services });
            println!("{}", serde_json::to_string_pretty(&doc)?);
            return anyhow::Ok(());
        }
        println!("Serial ports ({}):", ports.len());
        for p in &ports {
            let id = match (p.vid, p.pid) {
                (Some(v), Some(d)) => format!("{v:04x}:{d:04x}"),
                _ => "-".into(),
            };
            let what = match (&p.probe, p.in_use) {
                (_, true) => "in use by another program (not probed)".to_string(),
                (Some(probe), _) => format!("{} at {} baud", probe.firmware.name, probe.baud),
                (None, _) => p.product.clone().unwrap_or_default(),
            };
            println!("  {:<24} {id}  {:<24} {what}", p.path, p.bridge.unwrap_or("unknown bridge"));
        }
        println!("Network services ({}):", services.len());
        for s in &services {
            let version = s.version.as_deref().map(|v| format!(" version {v}")).unwrap_or_default();
            println!("  {:<10} {:<40} {}{version}", format!("{:?}", s.kind), s.name, s.url());
        }
        anyhow::Ok(())
    })
}

pub fn print(runtime: &tokio::runtime::Runtime, args: PrintArgs) -> anyhow::Result<()> {
    runtime.block_on(async {
        let driver: Box<dyn PrinterDriver> = if let Some(port) = &args.port {
            Box::new(MarlinDriver::serial(port.clone(), args.baud, MarlinOptions::default()))
        } else if let Some(addr) = &args.tcp {
            Box::new(MarlinDriver::tcp(addr.clone(), MarlinOptions::default()))
        } else if let Some(url) = &args.octoprint {
            let key = args.api_key.as_deref().context("--octoprint needs --api-key")?;
            Box::new(OctoPrintDriver::new(url, key, OctoPrintOptions::default())?)
        } else if let Some(url) = &args.moonraker {
            Box::new(MoonrakerDriver::new(url, MoonrakerOptions::default())?)
        } else {
            bail!("say where the printer is: --port, --tcp, --octoprint or --moonraker");
        };
        let mut status = driver.status();
        driver.connect().await?;
        let ready = tokio::time::timeout(
            Duration::from_secs(30),
            status.wait_for(|s| s.state == PrinterState::Idle || s.state == PrinterState::Error),
        )
        .await
        .context("the printer did not answer within 30 s")?
        .map(|s| s.clone())?;
        if ready.state == PrinterState::Error {
            bail!("cannot connect: {}", ready.message.unwrap_or_default());
        }
        if let Some(fw) = &ready.firmware {
            eprintln!("Connected to {}", fw.name);
        }
        let file = driver.upload(&args.file).await?;
        driver.start(&file.name).await?;
        let bar = indicatif::ProgressBar::new(file.size);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {bytes}/{total_bytes} {msg}")
                .context("progress bar template")?,
        );
        // Network printers report the start on their next update, so "idle" only means "done"
        // once the job has been seen running.
        let mut started = false;
        let outcome = loop {
            tokio::select! {
                changed = status.changed() => {
                    changed.context("the driver stopped")?;
                    let s = status.borrow_and_update().clone();
                    if let Some(b) = s.bytes {
                        bar.set_length(b.total);
                        bar.set_position(b.done);
                    }
                    bar.set_message(format!(
                        "{:.0}/{:.0} °C  bed {:.0}/{:.0} °C",
                        s.hotend.actual, s.hotend.target, s.bed.actual, s.bed.target
                    ));
                    started |= s.state.is_busy();
                    match s.state {
                        PrinterState::Error => break Err(s.message.unwrap_or_else(|| "unknown printer error".into())),
                        PrinterState::Idle if started && s.progress == Some(1.0) => {
                            break Ok(s.message.unwrap_or_else(|| format!("Finished {}", file.name)))
                        }
                        PrinterState::Idle if started => {
                            break Err(s.message.unwrap_or_else(|| "the job stopped before the end".into()))
                        }
                        _ => {}
                    }
                }
                _ = tokio::signal::ctrl_c() => {
                    driver.cancel().await?;
                    // Let the cancel script (heaters off, head up) reach the printer before we hang up.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    break Err("cancelled by the user".into());
                }
            }
        };
        bar.finish_and_clear();
        driver.disconnect().await?;
        match outcome {
            Ok(message) => {
                eprintln!("{message}");
                Ok(())
            }
            Err(e) => bail!("the print failed: {e}"),
        }
    })
}
