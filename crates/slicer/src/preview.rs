//! Layer preview data for the browser's layer slider: every path with its role, quantised to 10 µm.

use serde::Serialize;

use crate::toolpath::{LayerPaths, Role};

/// All layers of a sliced plate, in printing order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Preview {
    pub layers: Vec<PreviewLayer>,
}

/// One layer's paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewLayer {
    pub z: f32,
    pub height: f32,
    pub paths: Vec<PreviewPath>,
}

/// One path: role, bead width and points in units of 10 µm (a 655 mm bed fits in `u16`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewPath {
    pub role: Role,
    pub width: f32,
    pub closed: bool,
    pub points: Vec<[u16; 2]>,
}

/// Magic and version at the start of [`Preview::encode`]'s output.
pub const MAGIC: &[u8; 4] = b"PFP1";

fn quantise(v: f64) -> u16 {
    (v * 100.0).round().clamp(0.0, u16::MAX as f64) as u16
}

impl Preview {
    /// Builds the preview from the finished layers, in the order paths are printed.
    pub fn from_layers(layers: &[LayerPaths]) -> Self {
        let layers = layers
            .iter()
            .map(|l| {
                let mut paths = Vec::new();
                let all = l.adhesion.iter().chain(l.objects.iter().flat_map(|o| {
                    o.support.iter().chain(o.islands.iter().flat_map(|i| i.perimeters.iter().chain(i.fills.iter())))
                }));
                for p in all {
                    paths.push(PreviewPath {
                        role: p.role,
                        width: p.widths.first().copied().unwrap_or(0.0),
                        closed: p.closed,
                        points: p.points.iter().map(|v| [quantise(v.x), quantise(v.y)]).collect(),
                    });
                }
                PreviewLayer { z: l.z as f32, height: l.height as f32, paths }
            })
            .collect();
        Preview { layers }
    }

    /// Compact little-endian binary: `PFP1`, layer count, then per layer z, height, path count and per path
    /// role, closed flag, width in µm, point count and the points as delta-coded `i16` pairs after the first.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.layers.len() as u32).to_le_bytes());
        for l in &self.layers {
            out.extend_from_slice(&l.z.to_le_bytes());
            out.extend_from_slice(&l.height.to_le_bytes());
            out.extend_from_slice(&(l.paths.len() as u32).to_le_bytes());
            for p in &l.paths {
                out.push(p.role.code());
                out.push(p.closed as u8);
                out.extend_from_slice(&((p.width * 1000.0).round() as u16).to_le_bytes());
                out.extend_from_slice(&(p.points.len() as u32).to_le_bytes());
                let mut prev = [0i32; 2];
                for (i, pt) in p.points.iter().enumerate() {
                    if i == 0 {
                        out.extend_from_slice(&pt[0].to_le_bytes());
                        out.extend_from_slice(&pt[1].to_le_bytes());
                    } else {
                        for a in 0..2 {
                            let d = (pt[a] as i32 - prev[a]).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
                            out.extend_from_slice(&d.to_le_bytes());
                        }
                    }
                    prev = [pt[0] as i32, pt[1] as i32];
                }
            }
        }
        out
    }

    /// Number of paths over all layers.
    pub fn path_count(&self) -> usize {
        self.layers.iter().map(|l| l.paths.len()).sum()
    }
}
