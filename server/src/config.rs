//! Configuration: defaults, then `printfarm.toml` (`--config`), then `PRINTFARM_*` environment
//! variables, then command-line flags. Unknown keys in the file are errors, so typos never pass silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The settled configuration the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where HTTP listens.
    pub listen: SocketAddr,
    /// Holds the database and uploaded files; created on first run.
    pub data_dir: PathBuf,
    /// The built browser assets (`pkg/printfarm.{js,wasm,css}`).
    pub site_root: PathBuf,
    /// A `tracing` filter such as `info` or `server=debug,info`.
    pub log: String,
    /// How log lines are written: words for people, or one JSON object per line for collectors.
    pub log_format: LogFormat,
    pub demo: DemoConfig,
    /// Whether printers, discovery and the webhook may use loopback and link-local addresses (the box
    /// itself, `169.254.x.x`). Off: a person adding a printer cannot make the box talk to itself.
    pub allow_local_network: bool,
    /// How long and how many connections clients may hold.
    pub connections: ConnectionLimits,
}

/// Bounds on what one client's connections may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// The most time a client has to send a request's whole header (from its first byte, or from the
    /// previous answer on a kept-alive connection).
    pub header_timeout: Duration,
    /// The longest pause while a request's body is sent; a body that stalls longer is refused (408).
    pub body_idle_timeout: Duration,
    /// The most connections open at once from one address; more are closed at once.
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        // 64 connections: a classroom behind one address (a teacher's laptop with several tabs, a
        // kiosk) stays far below it, while a script opening thousands is cut off.
        Self { header_timeout: Duration::from_secs(10), body_idle_timeout: Duration::from_secs(30), per_address: 64 }
    }
}

/// How the server writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line (time, level, message, fields), for journald exporters, Loki or jq.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("expected text or json, got {other:?}")),
        }
    }
}

/// The demo farm of simulated printers, started when no printer is configured.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    pub enabled: bool,
    /// How many simulated printers a new, empty farm gets.
    pub printers: u32,
    /// Simulated seconds per real second (tests fast-forward).
    pub speed: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
            log_format: LogFormat::Text,
            demo: DemoConfig { enabled: true, printers: 6, speed: 1.0 },
            allow_local_network: false,
            connections: ConnectionLimits::default(),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Env { name: &'static str, value: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    site_root: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    #[serde(default)]
    demo: FileDemo,
    allow_local_network: Option<bool>,
    #[serde(default)]
    connections: FileConnections,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConnections {
    header_timeout_s: Option<f64>,
    body_idle_timeout_s: Option<f64>,
    per_address: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDemo {
    enabled: Option<bool>,
    printers: Option<u32>,
    speed: Option<f64>,
}

/// Flags given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads with the process environment.
    pub fn load(flags: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with(flags, |k| std::env::var(k).ok())
    }

    /// Loads with an explicit environment lookup, so tests need not touch the process's.
    pub fn load_with(flags: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        // cargo-leptos passes its own address and site root this way; ours below still wins.
        if let Some(v) = env("LEPTOS_SITE_ADDR") {
            c.listen = parse_env("LEPTOS_SITE_ADDR", v)?;
        }
        if let Some(v) = env("LEPTOS_SITE_ROOT") {
            c.site_root = v.into();
        }
        let file = flags.config_file.clone().or_else(|| env("PRINTFARM_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            c.apply_file(&path)?;
        }
        if let Some(v) = env("PRINTFARM_LISTEN") {
            c.listen = parse_env("PRINTFARM_LISTEN", v)?;
        }
        if let Some(v) = env("PRINTFARM_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Some(v) = env("PRINTFARM_SITE_ROOT") {
            c.site_root = v.into();
        }
        if let Some(v) = env("PRINTFARM_LOG") {
            c.log = v;
        }
        if let Some(v) = env("PRINTFARM_LOG_FORMAT") {
            c.log_format = parse_env("PRINTFARM_LOG_FORMAT", v)?;
        }
        if let Some(v) = env("PRINTFARM_DEMO") {
            c.demo.enabled = parse_env("PRINTFARM_DEMO", v)?;
        }
        if let Some(v) = env("PRINTFARM_DEMO_PRINTERS") {
            c.demo.printers = parse_env("PRINTFARM_DEMO_PRINTERS", v)?;
        }
        if let Some(v) = env("PRINTFARM_DEMO_SPEED") {
            c.demo.speed = parse_env("PRINTFARM_DEMO_SPEED", v)?;
        }
        if let Some(v) = env("PRINTFARM_CONNECTIONS_PER_ADDRESS") {
            c.connections.per_address = parse_env("PRINTFARM_CONNECTIONS_PER_ADDRESS", v)?;
        }
        if let Some(v) = env("PRINTFARM_HEADER_TIMEOUT_S") {
            c.connections.header_timeout =
                seconds("PRINTFARM_HEADER_TIMEOUT_S", parse_env("PRINTFARM_HEADER_TIMEOUT_S", v)?)?;
        }
        if let Some(v) = env("PRINTFARM_BODY_IDLE_TIMEOUT_S") {
            c.connections.body_idle_timeout =
                seconds("PRINTFARM_BODY_IDLE_TIMEOUT_S", parse_env("PRINTFARM_BODY_IDLE_TIMEOUT_S", v)?)?;
        }
        if let Some(v) = env("PRINTFARM_ALLOW_LOCAL_NETWORK") {
            c.allow_local_network = parse_env("PRINTFARM_ALLOW_LOCAL_NETWORK", v)?;
        }
        if let Some(v) = flags.listen {
            c.listen = v;
        }
        if let Some(v) = &flags.data_dir {
            c.data_dir = v.clone();
        }
        c.validate()?;
        Ok(c)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let f: FileConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), source: Box::new(e) })?;
        // Relative paths in a config file are relative to the file, as people expect.
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = f.data_dir {
            self.data_dir = base.join(v);
        }
        if let Some(v) = f.site_root {
            self.site_root = base.join(v);
        }
        if let Some(v) = f.log {
            self.log = v;
        }
        if let Some(v) = f.log_format {
            self.log_format = v;
        }
        if let Some(v) = f.demo.enabled {
            self.demo.enabled = v;
        }
        if let Some(v) = f.demo.printers {
            self.demo.printers = v;
        }
        if let Some(v) = f.demo.speed {
            self.demo.speed = v;
        }
        if let Some(v) = f.allow_local_network {
            self.allow_local_network = v;
        }
        if let Some(v) = f.connections.header_timeout_s {
            self.connections.header_timeout = seconds("connections.header_timeout_s", v)?;
        }
        if let Some(v) = f.connections.body_idle_timeout_s {
            self.connections.body_idle_timeout = seconds("connections.body_idle_timeout_s", v)?;
        }
        if let Some(v) = f.connections.per_address {
            self.connections.per_address = v;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(self.demo.speed.is_finite() && self.demo.speed > 0.0 && self.demo.speed <= 10_000.0) {
            return Err(ConfigError::Invalid(format!(
                "demo speed must be between 0 and 10000, got {}",
                self.demo.speed
            )));
        }
        if self.connections.per_address == 0 {
            return Err(ConfigError::Invalid("connections.per_address must be at least 1".into()));
        }
        if self.demo.printers > 100 {
            return Err(ConfigError::Invalid(format!("at most 100 demo printers, got {}", self.demo.printers)));
        }
        Ok(())
    }
}

/// A timeout setting in seconds, between a tenth of a second and an hour.
fn seconds(name: &str, v: f64) -> Result<Duration, ConfigError> {
    if v.is_finite() && (0.1..=3600.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(ConfigError::Invalid(format!("{name} must be between 0.1 and 3600 seconds, got {v}")))
    }
}

fn parse_env<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Env { name, value, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_without_anything() {
        let c = Config::load_with(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("printfarm.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:8080\"\ndata_dir = \"state\"\nallow_local_network = true\n[demo]\nprinters = 3\nspeed = 2.5\n\
             [connections]\nheader_timeout_s = 2.5\nper_address = 16\n",
        )
        .unwrap();
        let flags = Overrides { config_file: Some(path.clone()), ..Default::default() };
        let c = Config::load_with(&flags, env(&[("PRINTFARM_DEMO_PRINTERS", "9"), ("PRINTFARM_LOG_FORMAT", "JSON")]))
            .unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.data_dir, dir.path().join("state"));
        assert_eq!((c.demo.printers, c.demo.speed), (9, 2.5));
        assert!(c.allow_local_network);
        assert_eq!(c.connections.header_timeout, Duration::from_millis(2500));
        assert_eq!(c.connections.per_address, 16);
        assert_eq!(c.connections.body_idle_timeout, ConnectionLimits::default().body_idle_timeout);

        let flags = Overrides { listen: Some("127.0.0.1:9".parse().unwrap()), ..flags };
        let c = Config::load_with(&flags, env(&[("PRINTFARM_LISTEN", "127.0.0.1:7")])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9".parse().unwrap());
    }

    #[test]
    fn typos_and_bad_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("printfarm.toml");
        std::fs::write(&path, "lisen = \"0.0.0.0:80\"\n").unwrap();
        let err =
            Config::load_with(&Overrides { config_file: Some(path), ..Default::default() }, env(&[])).unwrap_err();
        assert!(err.to_string().contains("unknown field `lisen`"), "{err}");

        let err = Config::load_with(&Overrides::default(), env(&[("PRINTFARM_DEMO_SPEED", "fast")])).unwrap_err();
        assert!(err.to_string().contains("PRINTFARM_DEMO_SPEED"), "{err}");
        let err = Config::load_with(&Overrides::default(), env(&[("PRINTFARM_DEMO_SPEED", "-1")])).unwrap_err();
        assert!(err.to_string().contains("demo speed"), "{err}");
        let err = Config::load_with(&Overrides::default(), env(&[("PRINTFARM_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(err.to_string().contains("text or json"), "{err}");

        let err = Config::load_with(&Overrides::default(), env(&[("PRINTFARM_HEADER_TIMEOUT_S", "0")])).unwrap_err();
        assert!(err.to_string().contains("between 0.1 and 3600 seconds"), "{err}");
        let err =
            Config::load_with(&Overrides::default(), env(&[("PRINTFARM_CONNECTIONS_PER_ADDRESS", "0")])).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");

        let missing = Overrides { config_file: Some("/nonexistent/printfarm.toml".into()), ..Default::default() };
        assert!(matches!(Config::load_with(&missing, env(&[])), Err(ConfigError::Read { .. })));
    }
}
