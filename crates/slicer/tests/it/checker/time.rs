//! Independent print-time estimate: every move is a constant-acceleration trapezoid; junction speeds
//! follow Marlin's classic jerk rule (per axis X, Y, Z, E), then a backward and a forward pass make
//! every speed change reachable with the block's acceleration. Heating waits and dwells are not
//! counted (PrusaSlicer does not count them either).

use super::parse::{FileLimits, Move};

/// Machine limits used when the file does not set them.
#[derive(Debug, Clone)]
pub struct Machine {
    pub accel_print: f64,
    pub accel_travel: f64,
    pub accel_retract: f64,
    /// Per axis X, Y, Z, E.
    pub max_accel: [f64; 4],
    pub max_feed: [f64; 4],
    pub jerk: [f64; 4],
}

impl Default for Machine {
    /// 1000 mm/s² and 8 mm/s jerk in XY; Z/E limits as notes §3.3 (PrusaSlicer bench profile).
    fn default() -> Self {
        Machine {
            accel_print: 1000.0,
            accel_travel: 1000.0,
            accel_retract: 1000.0,
            max_accel: [1000.0, 1000.0, 100.0, 5000.0],
            max_feed: [200.0, 200.0, 12.0, 60.0],
            jerk: [8.0, 8.0, 0.4, 5.0],
        }
    }
}

impl Machine {
    /// These defaults overridden by whatever the file sets with M201/M203/M204/M205.
    pub fn with_file(&self, l: &FileLimits) -> Machine {
        let mut m = self.clone();
        for i in 0..4 {
            if let Some(v) = l.max_accel[i] {
                m.max_accel[i] = v;
            }
            if let Some(v) = l.max_feed[i] {
                m.max_feed[i] = v;
            }
            if let Some(v) = l.jerk[i] {
                m.jerk[i] = v;
            }
        }
        if let Some(v) = l.accel_print {
            m.accel_print = v;
        }
        if let Some(v) = l.accel_travel {
            m.accel_travel = v;
        }
        if let Some(v) = l.accel_retract {
            m.accel_retract = v;
        }
        m
    }
}

struct Block {
    len: f64,
    unit: [f64; 4],
    v: f64,
    a: f64,
    max_entry: f64,
}

/// Seconds to execute all moves.
#[allow(clippy::needless_range_loop)] // Four parallel per-axis arrays.
pub fn estimate(moves: &[Move], m: &Machine) -> f64 {
    let mut blocks: Vec<Block> = Vec::with_capacity(moves.len());
    for mv in moves {
        let d = [mv.to[0] - mv.from[0], mv.to[1] - mv.from[1], mv.to[2] - mv.from[2], mv.de];
        let xyz = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        let len = if xyz > 1e-9 { xyz } else { d[3].abs() };
        if len < 1e-9 || mv.feed <= 0.0 {
            continue;
        }
        let unit = d.map(|c| c / len);
        let mut v = mv.feed / 60.0;
        let mut a = if xyz <= 1e-9 {
            m.accel_retract
        } else if mv.de > 0.0 {
            m.accel_print
        } else {
            m.accel_travel
        };
        for i in 0..4 {
            if unit[i].abs() > 1e-12 {
                v = v.min(m.max_feed[i] / unit[i].abs());
                a = a.min(m.max_accel[i] / unit[i].abs());
            }
        }
        blocks.push(Block { len, unit, v, a, max_entry: 0.0 });
    }
    // Classic jerk (Marlin planner.cpp): safe speed from standstill, and the junction speed that keeps
    // every axis' speed jump within its jerk.
    let safe = |b: &Block| -> f64 {
        let mut s = b.v;
        for i in 0..4 {
            let c = (b.v * b.unit[i]).abs();
            if c > m.jerk[i] {
                s = s.min(m.jerk[i] / b.unit[i].abs());
            }
        }
        s
    };
    for k in 0..blocks.len() {
        let cur_safe = safe(&blocks[k]);
        if k == 0 {
            blocks[k].max_entry = cur_safe;
            continue;
        }
        let (p, c) = (&blocks[k - 1], &blocks[k]);
        let mut vj = c.v.min(p.v);
        let small = vj / p.v;
        let mut factor = 1.0f64;
        let mut limited = false;
        for i in 0..4 {
            let mut v_exit = p.unit[i] * p.v * small;
            let mut v_entry = c.unit[i] * c.v;
            if limited {
                v_exit *= factor;
                v_entry *= factor;
            }
            let jerk = if v_exit > v_entry {
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
            if jerk > m.jerk[i] {
                factor *= m.jerk[i] / jerk;
                limited = true;
            }
        }
        if limited {
            vj *= factor;
        }
        let threshold = vj * 0.99;
        let prev_safe = safe(p);
        if prev_safe > threshold && cur_safe > threshold {
            vj = cur_safe;
        }
        blocks[k].max_entry = vj.min(c.v);
    }
    let n = blocks.len();
    if n == 0 {
        return 0.0;
    }
    let mut entry: Vec<f64> = blocks.iter().map(|b| b.max_entry).collect();
    let last_exit = safe(&blocks[n - 1]);
    // Backward pass: each block must be able to slow down to the next block's entry.
    let mut next = last_exit;
    for k in (0..n).rev() {
        let b = &blocks[k];
        entry[k] = entry[k].min((next * next + 2.0 * b.a * b.len).sqrt());
        next = entry[k];
    }
    // Forward pass: each entry must be reachable from the previous entry.
    for k in 1..n {
        let b = &blocks[k - 1];
        entry[k] = entry[k].min((entry[k - 1] * entry[k - 1] + 2.0 * b.a * b.len).sqrt());
    }
    let mut t = 0.0;
    for k in 0..n {
        let b = &blocks[k];
        let ve = entry[k];
        let vx = if k + 1 < n { entry[k + 1] } else { last_exit.min(b.v) };
        t += trapezoid(b.len, ve.min(b.v), vx.min(b.v), b.v, b.a);
    }
    t
}

fn trapezoid(d: f64, ve: f64, vx: f64, vc: f64, a: f64) -> f64 {
    let d1 = (vc * vc - ve * ve) / (2.0 * a);
    let d2 = (vc * vc - vx * vx) / (2.0 * a);
    if d1 + d2 <= d {
        (vc - ve) / a + (vc - vx) / a + (d - d1 - d2) / vc
    } else {
        let vp = ((2.0 * a * d + ve * ve + vx * vx) / 2.0).sqrt().max(ve.max(vx));
        (vp - ve) / a + (vp - vx) / a
    }
}
