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

/// Preview colour of each role (PrusaSlicer's legend colours, so managers read it at a glance).
pub fn role_colour(role: Role) -> [u8; 3] {
    match role {
        Role::ExternalPerimeter => [255, 125, 56],
        Role::Perimeter => [255, 230, 77],
        Role::OverhangPerimeter => [0, 0, 255],
        Role::InternalInfill => [176, 48, 41],
        Role::SolidInfill => [150, 84, 204],
        Role::TopSolidInfill => [240, 64, 64],
        Role::BridgeInfill => [77, 128, 186],
        Role::Skirt | Role::Brim => [0, 135, 110],
        Role::Support => [0, 255, 0],
        Role::SupportInterface => [0, 128, 0],
    }
}

/// Draws one layer from above as a PNG `size` pixels on its longer side, beads at their true width.
pub fn render_layer_png(layer: &PreviewLayer, size: u32) -> Result<Vec<u8>, image::ImageError> {
    let pts = layer.paths.iter().flat_map(|p| p.points.iter());
    let (mut lo, mut hi) = ([u16::MAX; 2], [0u16; 2]);
    for p in pts {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    if lo[0] > hi[0] {
        (lo, hi) = ([0, 0], [1, 1]);
    }
    let margin = 200.0; // 2 mm
    let span = ((hi[0] - lo[0]) as f64).max((hi[1] - lo[1]) as f64) + 2.0 * margin;
    let scale = size as f64 / span;
    let w = (((hi[0] - lo[0]) as f64 + 2.0 * margin) * scale).ceil().max(1.0) as u32;
    let h = (((hi[1] - lo[1]) as f64 + 2.0 * margin) * scale).ceil().max(1.0) as u32;
    let mut img = image::RgbImage::from_pixel(w, h, image::Rgb([24, 24, 28]));
    let to_px = |p: [u16; 2]| {
        ((p[0] as f64 - lo[0] as f64 + margin) * scale, h as f64 - (p[1] as f64 - lo[1] as f64 + margin) * scale)
    };
    for path in &layer.paths {
        let colour = image::Rgb(role_colour(path.role));
        let radius = (path.width as f64 * 100.0 * scale / 2.0).max(0.5);
        let n = path.points.len();
        let segs = if path.closed { n } else { n.saturating_sub(1) };
        for i in 0..segs {
            let (ax, ay) = to_px(path.points[i]);
            let (bx, by) = to_px(path.points[(i + 1) % n]);
            let len = (bx - ax).hypot(by - ay);
            let steps = (len / (radius * 0.5).max(0.5)).ceil() as usize + 1;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let (cx, cy) = (ax + (bx - ax) * t, ay + (by - ay) * t);
                let r = radius.ceil() as i64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        if ((dx * dx + dy * dy) as f64) <= radius * radius {
                            let (x, y) = (cx as i64 + dx, cy as i64 + dy);
                            if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                                img.put_pixel(x as u32, y as u32, colour);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}
