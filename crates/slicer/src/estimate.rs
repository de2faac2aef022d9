//! Print-time estimate from a Marlin-style planner: trapezoidal velocity profiles with per-axis feedrate and
//! acceleration limits and classic jerk at the junctions, planned over a whole layer (lookahead both ways).

use crate::settings::PrinterProfile;

/// One planned move: the axis deltas (mm), requested feedrate (mm/s), and whether it extrudes.
#[derive(Debug, Clone, Copy)]
pub struct Move {
    pub delta: [f64; 4],
    pub feed: f64,
}

struct Block {
    length: f64,
    nominal: f64,
    accel: f64,
    max_entry: f64,
    entry: f64,
    safe: f64,
    axis_speed: [f64; 4],
}

/// Time in seconds for a sequence of moves that starts and ends at rest.
pub fn moves_time(moves: &[Move], printer: &PrinterProfile) -> f64 {
    let limits_f = [printer.max_feedrate.x, printer.max_feedrate.y, printer.max_feedrate.z, printer.max_feedrate.e];
    let limits_a = [
        printer.max_acceleration.x,
        printer.max_acceleration.y,
        printer.max_acceleration.z,
        printer.max_acceleration.e,
    ];
    let jerk = [printer.max_jerk.x, printer.max_jerk.y, printer.max_jerk.z, printer.max_jerk.e];
    let mut blocks: Vec<Block> = Vec::with_capacity(moves.len());
    for m in moves {
        let d = m.delta;
        let xyz = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        // E-only moves (retractions) are measured along E, as firmware does.
        let length = if xyz > 1e-9 { xyz } else { d[3].abs() };
        if length < 1e-9 || m.feed <= 0.0 {
            continue;
        }
        let mut nominal = m.feed;
        for a in 0..4 {
            let share = d[a].abs() / length;
            if share > 1e-12 {
                nominal = nominal.min(limits_f[a] / share);
            }
        }
        let extruding = d[3] > 0.0 && xyz > 1e-9;
        let base_accel = if xyz < 1e-9 {
            printer.max_acceleration.e
        } else if extruding {
            printer.acceleration_print
        } else {
            printer.acceleration_travel
        };
        let mut accel = base_accel;
        for a in 0..4 {
            let share = d[a].abs() / length;
            if share > 1e-12 {
                accel = accel.min(limits_a[a] / share);
            }
        }
        let axis_speed = [0, 1, 2, 3].map(|a| d[a] / length * nominal);
        // Speed from which the machine could stop instantly on every axis.
        let mut safe = nominal;
        for a in 0..4 {
            let v = axis_speed[a].abs();
            if v > jerk[a] {
                safe = safe.min(nominal * jerk[a] / v);
            }
        }
        let mut max_entry = safe;
        if let Some(prev) = blocks.last() {
            let prev_larger = prev.nominal > nominal;
            let factor = if prev_larger { nominal / prev.nominal } else { prev.nominal / nominal };
            let mut vmax = if prev_larger { nominal } else { prev.nominal };
            let mut v_factor = 1.0;
            let mut limited = false;
            for a in 0..4 {
                let (mut v_exit, mut v_entry) = (prev.axis_speed[a], axis_speed[a]);
                if prev_larger {
                    v_exit *= factor;
                } else {
                    v_entry *= factor;
                }
                let j = if v_exit > v_entry {
                    if v_entry > 0.0 || v_exit < 0.0 {
                        v_exit - v_entry
                    } else {
                        v_exit.max(-v_entry)
                    }
                } else if v_entry < 0.0 || v_exit > 0.0 {
                    v_entry - v_exit
                } else {
                    (-v_exit).max(v_entry)
                };
                if j > jerk[a] {
                    v_factor *= jerk[a] / j;
                    limited = true;
                }
            }
            if limited {
                vmax *= v_factor;
            }
            let threshold = vmax * 0.99;
            if prev.safe > threshold && safe > threshold {
                vmax = safe;
            }
            max_entry = vmax;
        }
        blocks.push(Block { length, nominal, accel, max_entry, entry: max_entry, safe, axis_speed });
    }
    if blocks.is_empty() {
        return 0.0;
    }
    // Backward pass: each block must be able to slow down to the next one's entry.
    let n = blocks.len();
    let mut next_entry = blocks[n - 1].safe;
    for b in blocks.iter_mut().rev() {
        b.entry = b.max_entry.min((next_entry * next_entry + 2.0 * b.accel * b.length).sqrt());
        next_entry = b.entry;
    }
    blocks[0].entry = blocks[0].entry.min(blocks[0].safe);
    // Forward pass: and speed up to it from the previous one.
    for i in 1..n {
        let (prev_entry, prev_accel, prev_len) = (blocks[i - 1].entry, blocks[i - 1].accel, blocks[i - 1].length);
        let reachable = (prev_entry * prev_entry + 2.0 * prev_accel * prev_len).sqrt();
        if blocks[i].entry > reachable {
            blocks[i].entry = reachable;
        }
    }
    let mut total = 0.0;
    for i in 0..n {
        let exit = if i + 1 < n { blocks[i + 1].entry } else { blocks[i].safe };
        total += trapezoid_time(blocks[i].entry, blocks[i].nominal, exit, blocks[i].accel, blocks[i].length);
    }
    total
}

/// Time to cover `length` starting at `v0`, cruising at most at `v`, ending at `v1`, with acceleration `a`.
fn trapezoid_time(v0: f64, v: f64, v1: f64, a: f64, length: f64) -> f64 {
    let v0 = v0.min(v);
    let v1 = v1.min(v);
    let accel_dist = (v * v - v0 * v0) / (2.0 * a);
    let decel_dist = (v * v - v1 * v1) / (2.0 * a);
    if accel_dist + decel_dist <= length {
        (v - v0) / a + (v - v1) / a + (length - accel_dist - decel_dist) / v
    } else {
        // Never reaches cruise: peak where the two ramps meet.
        let peak = ((2.0 * a * length + v0 * v0 + v1 * v1) / 2.0).sqrt().max(v0.max(v1));
        (peak - v0) / a + (peak - v1) / a
    }
}

/// Formats seconds the way PrusaSlicer does (`1d 2h 3m 4s`, leading zero units dropped).
pub fn format_time(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m {s}s"),
        _ => format!("{d}d {h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_straight_move_is_cruise_plus_ramps() {
        let p = PrinterProfile::default();
        // 100 mm at 50 mm/s, 1000 mm/s², jerk 8: ramps from 8 to 50 and back.
        let t = moves_time(&[Move { delta: [100.0, 0.0, 0.0, 0.0], feed: 50.0 }], &p);
        let ramp = (50.0 - 8.0) / 1000.0;
        let ramp_dist = (50.0f64 * 50.0 - 64.0) / 2000.0;
        let expected = 2.0 * ramp + (100.0 - 2.0 * ramp_dist) / 50.0;
        assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
    }

    #[test]
    fn a_square_slows_at_corners_a_line_does_not() {
        let p = PrinterProfile::default();
        let square: Vec<Move> = [[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0]]
            .iter()
            .map(|d| Move { delta: [d[0], d[1], 0.0, 0.5], feed: 100.0 })
            .collect();
        let line: Vec<Move> = (0..4).map(|_| Move { delta: [10.0, 0.0, 0.0, 0.5], feed: 100.0 }).collect();
        assert!(moves_time(&square, &p) > moves_time(&line, &p) * 1.2);
        assert_eq!(format_time(3723.4), "1h 2m 3s");
        assert_eq!(format_time(59.0), "59s");
    }
}
