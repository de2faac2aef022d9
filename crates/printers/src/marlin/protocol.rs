//! The Marlin/RepRap line protocol, both directions, as pure functions: framing with line numbers
//! and XOR checksums, and classifying what the printer says back. Shared by the driver and the
//! simulator so that both speak exactly the same dialect.

use crate::{FirmwareInfo, Position, Temperature};

/// XOR of every byte, the checksum Marlin verifies (`*<cs>` after the line).
pub fn checksum(s: &str) -> u8 {
    s.bytes().fold(0, |a, b| a ^ b)
}

/// `N<n> <cmd>*<cs>`, without the newline.
pub fn frame(n: u64, cmd: &str) -> String {
    let body = format!("N{n} {cmd}");
    let cs = checksum(&body);
    format!("{body}*{cs}")
}

/// The command part of a G-code line: comments removed, whitespace trimmed; `None` when nothing is left.
pub fn strip_comment(line: &str) -> Option<&str> {
    let code = line.split(';').next().unwrap_or("").trim();
    (!code.is_empty()).then_some(code)
}

/// The first word of a command, upper-cased (`g1` → `G1`), or `""`.
pub fn command_word(cmd: &str) -> String {
    cmd.split_whitespace().next().unwrap_or("").to_ascii_uppercase()
}

/// The value of parameter `letter` in a G-code command (`G1 X10 F600`, `X` → 10).
pub fn param(cmd: &str, letter: char) -> Option<f64> {
    cmd.split_whitespace().skip(1).find_map(|w| {
        let mut c = w.chars();
        let first = c.next()?;
        if first.eq_ignore_ascii_case(&letter) {
            c.as_str().parse().ok()
        } else {
            None
        }
    })
}

/// One line from the printer, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `ok`, with the `ADVANCED_OK` fields when the firmware sends them. `ok T:…` (the M105 answer)
    /// also carries temperatures.
    Ok { line: Option<u64>, planner: Option<u32>, buffer: Option<u32>, temps: Option<Temps> },
    /// `Resend: N` / `rs N`: send line N again, and everything after it.
    Resend(u64),
    /// `Error:` about framing (checksum, line number): recoverable, a `Resend` follows.
    LineError(String),
    /// Any other `Error:`: the printer stopped, the text is verbatim.
    FatalError(String),
    /// `start`: the board has just booted (DTR reset, watchdog, power).
    Start,
    /// `busy: processing` and friends: the current command is still running.
    Busy,
    /// An autoreport or wait report: temperatures without an `ok`.
    Temperatures(Temps),
    /// The `M114` answer.
    Position(Position),
    /// `FIRMWARE_NAME:…` from `M115`.
    Firmware(FirmwareInfo),
    /// `Cap:NAME:0|1`.
    Capability(String, bool),
    /// `echo:`, `wait`, and anything else worth logging but not acting on.
    Other(String),
}

/// Heater readings from one report.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Temps {
    pub hotend: Option<Temperature>,
    pub bed: Option<Temperature>,
}

impl Response {
    /// Classifies one line (without its newline).
    pub fn parse(line: &str) -> Self {
        let line = line.trim();
        let lower = line.to_ascii_lowercase();
        if lower == "ok" || lower.starts_with("ok ") {
            return parse_ok(line);
        }
        if lower.starts_with("resend") || lower.starts_with("rs ") || lower.starts_with("rs:") {
            if let Some(n) = first_number(&line[2..]) {
                return Self::Resend(n);
            }
        }
        if lower.starts_with("error:") || lower.starts_with("!!") {
            let text = line.split_once(':').map_or(line, |(_, t)| t).trim().to_string();
            let l = text.to_ascii_lowercase();
            let framing = l.contains("checksum") || l.contains("line number") || l.contains("last line");
            return if framing { Self::LineError(text) } else { Self::FatalError(text) };
        }
        if lower == "start" {
            return Self::Start;
        }
        if lower.starts_with("busy:") || lower.starts_with("echo:busy") || lower.starts_with("echo: busy") {
            return Self::Busy;
        }
        if let Some(rest) = line.strip_prefix("Cap:") {
            if let Some((name, v)) = rest.rsplit_once(':') {
                return Self::Capability(name.trim().to_string(), v.trim() == "1");
            }
        }
        if line.starts_with("FIRMWARE_NAME:") {
            return Self::Firmware(parse_firmware(line));
        }
        if let Some(t) = parse_temps(line) {
            return Self::Temperatures(t);
        }
        if let Some(p) = parse_position(line) {
            return Self::Position(p);
        }
        Self::Other(line.to_string())
    }
}

fn parse_ok(line: &str) -> Response {
    let mut n = None;
    let mut planner = None;
    let mut buffer = None;
    for w in line.split_whitespace().skip(1) {
        let Some(k) = w.get(..1) else { continue };
        let v = &w[1..];
        match k {
            "N" => n = v.parse().ok(),
            "P" => planner = v.parse().ok(),
            "B" if !v.starts_with(':') && !v.starts_with('@') => buffer = v.parse().ok(),
            _ => {}
        }
    }
    Response::Ok { line: n, planner, buffer, temps: parse_temps(line) }
}

fn first_number(s: &str) -> Option<u64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let digits: String = s[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Reads ` T:21.3 /0.0 B:20.9 /0.0 @:0 B@:0` (also `T:21.30/ 0.00`, `T0:`, with or without targets).
pub fn parse_temps(line: &str) -> Option<Temps> {
    let mut out = Temps::default();
    let mut rest = line;
    while let Some(i) = rest.find(':') {
        // The key starts after the last whitespace, which may be wider than a byte (U+0085 from line noise).
        let key_start =
            rest[..i].char_indices().rev().find(|(_, c)| c.is_whitespace()).map_or(0, |(j, c)| j + c.len_utf8());
        let key = &rest[key_start..i];
        let after = &rest[i + 1..];
        let (actual, target, used) = read_reading(after);
        let slot = match key {
            "T" | "T0" => Some(&mut out.hotend),
            "B" => Some(&mut out.bed),
            _ => None,
        };
        if let (Some(slot), Some(actual)) = (slot, actual) {
            if slot.is_none() {
                *slot = Some(Temperature { actual, target: target.unwrap_or(0.0) });
            }
        }
        rest = &after[used.min(after.len())..];
    }
    (out.hotend.is_some() || out.bed.is_some()).then_some(out)
}

/// `21.3 /0.0` → (21.3, 0.0, bytes used).
fn read_reading(s: &str) -> (Option<f32>, Option<f32>, usize) {
    let num = |s: &str| -> (Option<f32>, usize) {
        let t = s.trim_start();
        let skipped = s.len() - t.len();
        let len = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(t.len());
        (t[..len].parse().ok(), skipped + len)
    };
    let (actual, a_len) = num(s);
    if actual.is_none() {
        return (None, None, 0);
    }
    let rest = &s[a_len..];
    let t = rest.trim_start();
    if let Some(after_slash) = t.strip_prefix('/') {
        let (target, t_len) = num(after_slash);
        let used = a_len + (rest.len() - t.len()) + 1 + t_len;
        return (actual, target, used);
    }
    (actual, None, a_len)
}

/// Reads `X:10.00 Y:20.00 Z:0.30 E:1.20 Count X:…` (the part before `Count`).
pub fn parse_position(line: &str) -> Option<Position> {
    let head = line.split(" Count").next()?;
    if !head.starts_with("X:") {
        return None;
    }
    let get = |k: &str| -> Option<f32> {
        head.split_whitespace().find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse().ok())
    };
    Some(Position { x: get("X:")?, y: get("Y:")?, z: get("Z:")?, e: get("E:").unwrap_or(0.0) })
}

/// Splits `FIRMWARE_NAME:Marlin 2.1.2 (…) SOURCE_CODE_URL:… MACHINE_TYPE:…` at each ` KEY:`.
pub fn parse_firmware(line: &str) -> FirmwareInfo {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut key_at = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if i == 0 || bytes[i - 1] == b' ' {
            let end = line[i..].find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
            if let Some(len) = end {
                if len > 0 && bytes[i].is_ascii_uppercase() && bytes[i + len] == b':' {
                    key_at.push((i, i + len));
                }
            }
        }
        i += 1;
    }
    for (k, &(start, colon)) in key_at.iter().enumerate() {
        let value_end = key_at.get(k + 1).map_or(line.len(), |&(s, _)| s);
        fields.push((line[start..colon].to_string(), line[colon + 1..value_end].trim().to_string()));
    }
    let name = fields.iter().find(|(k, _)| k == "FIRMWARE_NAME").map(|(_, v)| v.clone()).unwrap_or_default();
    FirmwareInfo { name, fields, capabilities: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperatures_after_wide_whitespace_do_not_panic() {
        // U+0085 (line noise) and U+2003 are whitespace wider than a byte; slicing after them panicked.
        let t = parse_temps("a\u{85}T:20.5 /0").expect("a hotend reading");
        assert_eq!(t.hotend, Some(Temperature { actual: 20.5, target: 0.0 }));
        let both = Temps {
            hotend: Some(Temperature { actual: 21.0, target: 0.0 }),
            bed: Some(Temperature { actual: 60.0, target: 0.0 }),
        };
        assert_eq!(Response::parse("T:21 /0\u{2003}B:60 /0"), Response::Temperatures(both));
    }

    #[test]
    fn checksums_match_marlin() {
        // Values verified against a real Marlin and OctoPrint (notes §2c).
        assert_eq!(frame(0, "M110 N0"), "N0 M110 N0*125");
        assert_eq!(frame(1, "M115"), "N1 M115*39");
        assert_eq!(frame(2, "M105"), "N2 M105*37");
        assert_eq!(frame(3, "M104 S200"), "N3 M104 S200*100");
    }

    #[test]
    fn responses_are_classified() {
        assert_eq!(
            Response::parse("ok N12 P15 B3"),
            Response::Ok { line: Some(12), planner: Some(15), buffer: Some(3), temps: None }
        );
        assert_eq!(Response::parse("Resend: 7"), Response::Resend(7));
        assert_eq!(Response::parse("rs N7"), Response::Resend(7));
        assert!(matches!(Response::parse("Error:checksum mismatch, Last Line: 6"), Response::LineError(_)));
        assert_eq!(
            Response::parse("Error:Thermal Runaway, system stopped! Heater_ID: 0"),
            Response::FatalError("Thermal Runaway, system stopped! Heater_ID: 0".into())
        );
        assert_eq!(Response::parse("start"), Response::Start);
        assert_eq!(Response::parse("echo:busy: processing"), Response::Busy);
        assert_eq!(Response::parse("busy:processing"), Response::Busy);
        assert_eq!(Response::parse("Cap:AUTOREPORT_TEMP:1"), Response::Capability("AUTOREPORT_TEMP".into(), true));
        assert!(matches!(Response::parse("echo:Unknown command: \"X\""), Response::Other(_)));
    }

    #[test]
    fn temperatures_parse_leniently() {
        let t = parse_temps(" T:21.30/ 0.00 B:21.30/ 0.00 @:64").unwrap();
        assert_eq!(t.hotend, Some(Temperature { actual: 21.3, target: 0.0 }));
        let t = parse_temps("ok T:200.1 /210.0 B:59.8 /60.0 @:127 B@:0").unwrap();
        assert_eq!(t.bed, Some(Temperature { actual: 59.8, target: 60.0 }));
        assert_eq!(t.hotend.unwrap().target, 210.0);
        let t = parse_temps("T0:200.0 /200.0 T1:25.0 /0.0 B:60.0 /60.0 T:200.0 /200.0 W:?").unwrap();
        assert_eq!(t.hotend.unwrap().actual, 200.0);
        assert_eq!(parse_temps("echo:SD card ok"), None);
        match Response::parse("ok T:20.0 /0.0 B:21.0 /0.0 @:0 B@:0") {
            Response::Ok { temps: Some(t), buffer: None, .. } => assert_eq!(t.bed.unwrap().actual, 21.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn firmware_line_splits_into_fields() {
        let f = parse_firmware(
            "FIRMWARE_NAME:Marlin 2.1.2.4 (Jun 1 2024) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f",
        );
        assert_eq!(f.name, "Marlin 2.1.2.4 (Jun 1 2024)");
        assert!(f.fields.contains(&("MACHINE_TYPE".into(), "Ender-3 V2".into())));
        assert!(f.fields.contains(&("UUID".into(), "cede2a2f".into())));
    }

    #[test]
    fn positions_and_params() {
        let p = parse_position("X:10.00 Y:20.50 Z:0.30 E:1.20 Count X:800 Y:1640 Z:120").unwrap();
        assert_eq!((p.x, p.y, p.z, p.e), (10.0, 20.5, 0.3, 1.2));
        assert_eq!(param("G1 X10 F600", 'F'), Some(600.0));
        assert_eq!(strip_comment("  G1 X1 ; move"), Some("G1 X1"));
        assert_eq!(strip_comment(";LAYER:3"), None);
    }
}
