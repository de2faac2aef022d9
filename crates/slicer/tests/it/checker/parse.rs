//! G-code reader: an exact state machine over the commands a Marlin/Klipper FDM file uses.
//!
//! It records every `G0`/`G1` as a [`Move`] (with the machine's E delta, feed rate and the slicer's
//! `;TYPE:`/`;WIDTH:` annotations in force), plus the facts the checks need that only exist in
//! sequence: temperatures at the first extrusion, E-mode ambiguity between Marlin and Klipper,
//! firmware limits (`M201`/`M203`/`M204`/`M205`), progress (`M73`) and object labels.

/// One `G0`/`G1` as the machine executes it.
#[derive(Debug, Clone)]
pub struct Move {
    /// 1-based line number in the file.
    pub line: usize,
    pub g0: bool,
    pub from: [f64; 3],
    pub to: [f64; 3],
    /// Filament pushed (mm, negative for a retraction), whatever the E mode.
    pub de: f64,
    /// Feed rate in force, mm/min.
    pub feed: f64,
    /// Index into [`Trace::types`] of the `;TYPE:` in force (0 = none seen yet).
    pub ty: usize,
    /// `;WIDTH:` in force, 0 when the file never said.
    pub width: f64,
}

impl Move {
    pub fn xy_len(&self) -> f64 {
        (self.to[0] - self.from[0]).hypot(self.to[1] - self.from[1])
    }
    pub fn len3(&self) -> f64 {
        let d = [0, 1, 2].map(|i| self.to[i] - self.from[i]);
        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
    }
    /// A printing move: pushes filament while moving in XY.
    pub fn extrudes(&self) -> bool {
        self.de > 1e-9 && self.xy_len() > 1e-9
    }
}

/// Firmware limits found in the file (`None` = not set by the file).
#[derive(Debug, Clone, Default)]
pub struct FileLimits {
    /// `M201` per axis X, Y, Z, E (mm/s²).
    pub max_accel: [Option<f64>; 4],
    /// `M203` per axis (mm/s).
    pub max_feed: [Option<f64>; 4],
    /// `M204` P (printing), R (retract), T (travel), S (legacy: printing and travel).
    pub accel_print: Option<f64>,
    pub accel_retract: Option<f64>,
    pub accel_travel: Option<f64>,
    /// `M205` X Y Z E (classic jerk, mm/s).
    pub jerk: [Option<f64>; 4],
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct Trace {
    pub moves: Vec<Move>,
    /// Distinct `;TYPE:` values; index 0 is "" (no type yet).
    pub types: Vec<String>,
    pub first_line: String,
    pub lines: usize,
    /// Heating state at the first printing move: (hotend target, highest M109 target waited for, bed set).
    pub at_first_extrusion: Option<FirstExtrusion>,
    /// Printing moves while the hotend target was below the minimum (line numbers, first few).
    pub cold_extrusions: Vec<usize>,
    pub cold_extrusion_count: usize,
    /// `G0` lines that carry an E word.
    pub g0_with_e: Vec<usize>,
    /// Moves that push filament while moving only in Z (line numbers).
    pub z_only_extrusions: Vec<usize>,
    /// Absolute-E drops of more than 10 mm without `G92` (line numbers).
    pub big_e_drops: Vec<usize>,
    /// Moves with an E word where Marlin's and Klipper's E modes disagree (`G90`/`G91` after `M82`/`M83`).
    pub ambiguous_e: Vec<usize>,
    /// Sum of all E deltas (net filament).
    pub net_e: f64,
    pub limits: FileLimits,
    pub layer_change_comments: usize,
    /// Values of `;Z:` comments, in order.
    pub z_comments: Vec<f64>,
    /// `M73 P` values in order, and `M73 R` values.
    pub m73_p: Vec<f64>,
    pub m73_r: Vec<f64>,
    /// Object names from `EXCLUDE_OBJECT_DEFINE NAME=` / `M486 A`, and started ones.
    pub objects_defined: Vec<String>,
    pub objects_started: Vec<String>,
    pub m486_count: usize,
    /// Lines the reader did not understand (first few), e.g. unknown G-words.
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct FirstExtrusion {
    pub line: usize,
    pub hotend_target: f64,
    pub waited_hotend: f64,
    pub bed_set: bool,
    pub bed_target: f64,
}

fn words(code: &str) -> Vec<(char, f64)> {
    // Letter + number pairs; tolerates both "G1 X1 Y2" and "G1X1Y2".
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_alphabetic() {
            let mut j = i + 1;
            while j < b.len() && (b[j] == b' ') {
                j += 1;
            }
            let start = j;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b'-' || b[j] == b'+') {
                j += 1;
            }
            if let Ok(v) = code[start..j].parse::<f64>() {
                out.push((c.to_ascii_uppercase(), v));
            } else {
                out.push((c.to_ascii_uppercase(), f64::NAN));
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn get(w: &[(char, f64)], c: char) -> Option<f64> {
    w.iter().skip(1).find(|(l, _)| *l == c).map(|(_, v)| *v)
}

fn klipper_param<'a>(code: &'a str, key: &str) -> Option<&'a str> {
    code.split_whitespace().find_map(|t| {
        let (k, v) = t.split_once('=')?;
        k.eq_ignore_ascii_case(key).then_some(v)
    })
}

/// Reads a whole file. `min_hotend` is the cold-extrusion limit (170 °C in Marlin).
pub fn read(gcode: &str, min_hotend: f64) -> Trace {
    let mut t = Trace { types: vec![String::new()], ..Default::default() };
    let mut pos = [0.0f64; 4];
    let mut abs_xyz = true;
    // Marlin 2: G90/G91 also set the E mode; Klipper: only M82/M83 do. Track both.
    let mut abs_e_marlin = true;
    let mut abs_e_klipper = true;
    let mut feed = 1500.0;
    let mut ty = 0usize;
    let mut width = 0.0;
    let (mut hotend, mut waited, mut bed, mut bed_set) = (0.0f64, 0.0f64, 0.0f64, false);
    for (n, raw) in gcode.lines().enumerate() {
        let line_no = n + 1;
        t.lines = line_no;
        if n == 0 {
            t.first_line = raw.to_string();
        }
        let (code, comment) = match raw.find(';') {
            Some(i) => (&raw[..i], Some(raw[i + 1..].trim())),
            None => (raw, None),
        };
        if let Some(c) = comment {
            if code.trim().is_empty() {
                if c == "LAYER_CHANGE" {
                    t.layer_change_comments += 1;
                } else if let Some(z) = c.strip_prefix("Z:").and_then(|v| v.trim().parse().ok()) {
                    t.z_comments.push(z);
                } else if let Some(v) = c.strip_prefix("TYPE:") {
                    let v = v.trim();
                    ty = match t.types.iter().position(|x| x == v) {
                        Some(i) => i,
                        None => {
                            t.types.push(v.to_string());
                            t.types.len() - 1
                        }
                    };
                } else if let Some(v) = c.strip_prefix("WIDTH:") {
                    width = v.trim().parse().unwrap_or(width);
                }
            }
        }
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let first = code.split_whitespace().next().unwrap_or("");
        let upper = first.to_ascii_uppercase();
        if upper.starts_with("EXCLUDE_OBJECT") {
            let name = klipper_param(code, "NAME").unwrap_or("").to_string();
            match upper.as_str() {
                "EXCLUDE_OBJECT_DEFINE" => t.objects_defined.push(name),
                "EXCLUDE_OBJECT_START" => t.objects_started.push(name),
                _ => {}
            }
            continue;
        }
        let w = words(code);
        let Some(&(letter, num)) = w.first() else { continue };
        match (letter, num as i64, num.fract() == 0.0) {
            ('G', 0 | 1, true) => {
                let g0 = num == 0.0;
                if let Some(f) = get(&w, 'F') {
                    feed = f;
                }
                let from = [pos[0], pos[1], pos[2]];
                for (i, axis) in ['X', 'Y', 'Z'].into_iter().enumerate() {
                    if let Some(v) = get(&w, axis) {
                        pos[i] = if abs_xyz { v } else { pos[i] + v };
                    }
                }
                let mut de = 0.0;
                if let Some(v) = get(&w, 'E') {
                    if abs_e_marlin != abs_e_klipper {
                        t.ambiguous_e.push(line_no);
                    }
                    let new_e = if abs_e_marlin { v } else { pos[3] + v };
                    de = new_e - pos[3];
                    if abs_e_marlin && de < -10.0 {
                        t.big_e_drops.push(line_no);
                    }
                    pos[3] = new_e;
                    if g0 && de != 0.0 {
                        t.g0_with_e.push(line_no);
                    }
                }
                t.net_e += de;
                let m = Move { line: line_no, g0, from, to: [pos[0], pos[1], pos[2]], de, feed, ty, width };
                if m.de > 1e-9 && m.xy_len() <= 1e-9 && (m.to[2] - m.from[2]).abs() > 1e-9 {
                    t.z_only_extrusions.push(line_no);
                }
                if m.extrudes() {
                    if t.at_first_extrusion.is_none() {
                        t.at_first_extrusion = Some(FirstExtrusion {
                            line: line_no,
                            hotend_target: hotend,
                            waited_hotend: waited,
                            bed_set,
                            bed_target: bed,
                        });
                    }
                    if hotend < min_hotend {
                        t.cold_extrusion_count += 1;
                        if t.cold_extrusions.len() < 5 {
                            t.cold_extrusions.push(line_no);
                        }
                    }
                }
                t.moves.push(m);
            }
            ('G', 90, true) => {
                abs_xyz = true;
                abs_e_marlin = true;
            }
            ('G', 91, true) => {
                abs_xyz = false;
                abs_e_marlin = false;
            }
            ('G', 92, true) => {
                let mut any = false;
                for (i, axis) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = get(&w, axis) {
                        pos[i] = v;
                        any = true;
                    }
                }
                if !any {
                    pos = [0.0; 4];
                }
            }
            ('G', 28, true) => {
                let axes: Vec<usize> = ['X', 'Y', 'Z']
                    .into_iter()
                    .enumerate()
                    .filter(|(_, a)| w.iter().skip(1).any(|(l, _)| l == a))
                    .map(|(i, _)| i)
                    .collect();
                if axes.is_empty() {
                    pos[0] = 0.0;
                    pos[1] = 0.0;
                    pos[2] = 0.0;
                } else {
                    for i in axes {
                        pos[i] = 0.0;
                    }
                }
            }
            ('G', 4 | 21 | 29 | 80, true) => {}
            ('M', 82, _) => {
                abs_e_marlin = true;
                abs_e_klipper = true;
            }
            ('M', 83, _) => {
                abs_e_marlin = false;
                abs_e_klipper = false;
            }
            ('M', 104, _) => hotend = get(&w, 'S').unwrap_or(hotend),
            ('M', 109, _) => {
                hotend = get(&w, 'S').or(get(&w, 'R')).unwrap_or(hotend);
                waited = waited.max(hotend);
            }
            ('M', 140, _) => {
                bed = get(&w, 'S').unwrap_or(bed);
                bed_set = true;
            }
            ('M', 190, _) => {
                bed = get(&w, 'S').or(get(&w, 'R')).unwrap_or(bed);
                bed_set = true;
            }
            ('M', 73, _) => {
                if let Some(p) = get(&w, 'P') {
                    t.m73_p.push(p);
                }
                if let Some(r) = get(&w, 'R') {
                    t.m73_r.push(r);
                }
            }
            ('M', 486, _) => {
                t.m486_count += 1;
                if let Some(i) = code.find(" A") {
                    let name = code[i + 2..].trim().trim_matches('"').to_string();
                    if !name.is_empty() {
                        t.objects_defined.push(name);
                    }
                }
            }
            ('M', 201, _) => {
                for (i, a) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = get(&w, a) {
                        t.limits.max_accel[i] = Some(v);
                    }
                }
            }
            ('M', 203, _) => {
                for (i, a) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = get(&w, a) {
                        t.limits.max_feed[i] = Some(v);
                    }
                }
            }
            ('M', 204, _) => {
                if let Some(s) = get(&w, 'S') {
                    t.limits.accel_print = Some(s);
                    t.limits.accel_travel = Some(s);
                }
                if let Some(p) = get(&w, 'P') {
                    t.limits.accel_print = Some(p);
                }
                if let Some(r) = get(&w, 'R') {
                    t.limits.accel_retract = Some(r);
                }
                if let Some(v) = get(&w, 'T') {
                    t.limits.accel_travel = Some(v);
                }
            }
            ('M', 205, _) => {
                for (i, a) in ['X', 'Y', 'Z', 'E'].into_iter().enumerate() {
                    if let Some(v) = get(&w, a) {
                        t.limits.jerk[i] = Some(v);
                    }
                }
            }
            ('M', _, _) | ('T', _, _) => {}
            _ => {
                if t.unknown.len() < 5 {
                    t.unknown.push(format!("{line_no}: {code}"));
                }
            }
        }
    }
    t
}
