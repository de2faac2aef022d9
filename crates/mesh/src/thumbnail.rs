//! Thumbnails: a small software renderer that draws a shaded picture of a mesh, for library cards and
//! for the previews embedded in G-code (`; thumbnail begin 220x124 …`).
//!
//! The camera is orthographic and fitted to the mesh's projected outline. Triangles are rasterised with
//! exact fixed-point edge functions (so shared edges never leave cracks) into a z-buffer, shaded with
//! Lambert + ambient light from the viewer's upper left, optionally outlined where the depth jumps, and
//! supersampled then averaged down so even 32x32 previews have smooth edges. Everything runs on one
//! core in `f32`; most triangles of a dense mesh are smaller than a pixel and are rejected by a cheap
//! bounding-box test before any shading work.
//!
//! ```
//! use mesh::thumbnail::{render_png, ThumbnailOptions};
//! let png = render_png(&mesh::IndexedMesh::cube(20.0), &ThumbnailOptions::sized(220, 124)).unwrap();
//! assert!(png.starts_with(b"\x89PNG"));
//! ```

use std::io::Cursor;

use crate::{IndexedMesh, Rgba};

/// Largest accepted thumbnail side in pixels; bigger pictures are not thumbnails, and the limit keeps
/// the fixed-point maths below far from overflow.
pub const MAX_SIDE: u32 = 2048;
/// Largest supersampling factor (samples per pixel along each axis).
pub const MAX_SUPERSAMPLE: u32 = 4;
/// Largest side of the internal, supersampled frame: big pictures get less supersampling so the
/// frame stays under about 130 MB (8 bytes per sample), which matters in the browser.
const MAX_INTERNAL_SIDE: u32 = 4096;

/// Fraction of the shorter image side left empty around the model.
const MARGIN_FRACTION: f32 = 0.05;
/// Sub-pixel bits of the fixed-point rasteriser: 1/256 px snapping is invisible and keeps every
/// edge-function product well inside `i64`.
const SUBPIXEL_BITS: u32 = 8;
const SUBPIXEL_ONE: f32 = (1 << SUBPIXEL_BITS) as f32;
/// Offset of a pixel centre from its corner, in fixed point.
const HALF_PIXEL_FX: i64 = 1 << (SUBPIXEL_BITS - 1);
/// Light that reaches every surface, as a fraction of full brightness.
const AMBIENT: f32 = 0.32;
/// Strength of the key light from the viewer's upper left.
const DIFFUSE: f32 = 0.58;
/// Strength of a light at the camera, so faces turned away from the key light keep their shape.
const HEAD_LIGHT: f32 = 0.22;
/// Inside faces (seen through holes in open meshes) are drawn darker so they read as inside.
const BACK_FACE_DIM: f32 = 0.55;
/// Smooth shading keeps edges sharper than this (cosine of about 35°) crisp, so boxes stay boxes.
const CREASE_COS: f32 = 0.82;
/// Opacity of the bed shadow at its darkest.
const SHADOW_ALPHA: f32 = 0.35;
/// Blur radius of the shadow's edge as a fraction of the shorter frame side.
const SHADOW_BLUR: f32 = 0.025;
/// Brightness kept where the outline is drawn.
const EDGE_DARKEN: f32 = 0.55;
/// A depth step larger than this many pixel-widths between neighbouring pixels counts as an edge.
const EDGE_DEPTH_PIXELS: f32 = 3.0;

/// Where the camera looks from. The model's +z is up in every view except [`View::Top`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// From the front right and above (35° elevation), like slicer thumbnails.
    #[default]
    Isometric,
    /// Straight down the z axis, +y up in the picture.
    Top,
    /// From −y towards +y, +z up.
    Front,
}

/// How surfaces are shaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shading {
    /// One brightness per triangle: facets stay visible.
    Flat,
    /// Brightness interpolated from vertex normals, except across sharp creases.
    #[default]
    Smooth,
}

/// What to draw and how big.
#[derive(Debug, Clone, PartialEq)]
pub struct ThumbnailOptions {
    /// Picture width in pixels, 1 to [`MAX_SIDE`].
    pub width: u32,
    /// Picture height in pixels, 1 to [`MAX_SIDE`].
    pub height: u32,
    pub view: View,
    /// Colour behind the model; the default is fully transparent.
    pub background: Rgba,
    /// The model's colour before shading (its alpha is ignored: the model is opaque).
    pub colour: Rgba,
    pub shading: Shading,
    /// Darken silhouettes and depth jumps, which helps small thumbnails read.
    pub edge_darkening: bool,
    /// Draw a soft shadow on the bed under the model (isometric view only; from above or the front
    /// the shadow would be hidden or edge-on).
    pub shadow: bool,
    /// Samples per pixel along each axis (1 to [`MAX_SUPERSAMPLE`]); 2 smooths jagged edges. Large
    /// pictures use less, so the internal frame stays at most 4096 samples on a side.
    pub supersample: u32,
}

impl Default for ThumbnailOptions {
    fn default() -> Self {
        Self {
            width: 256,
            height: 256,
            view: View::Isometric,
            background: [0, 0, 0, 0],
            colour: [236, 140, 52, 255],
            shading: Shading::Smooth,
            edge_darkening: true,
            shadow: false,
            supersample: 2,
        }
    }
}

impl ThumbnailOptions {
    /// The default options at another size, e.g. `sized(220, 124)` for a G-code thumbnail.
    pub fn sized(width: u32, height: u32) -> Self {
        Self { width, height, ..Self::default() }
    }
}

/// Why a thumbnail could not be drawn.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ThumbnailError {
    #[error("the mesh has no triangles, so there is nothing to draw")]
    EmptyMesh,
    #[error("a thumbnail of {width}x{height} pixels is not possible: each side must be 1 to {MAX_SIDE} pixels")]
    InvalidSize { width: u32, height: u32 },
    #[error("supersampling factor {0} is not possible: use 1 to {MAX_SUPERSAMPLE}")]
    InvalidSupersample(u32),
    #[error("the thumbnail could not be encoded as PNG: {0}")]
    Encode(String),
}

/// Draws `mesh` as a shaded RGBA picture of `options.width` x `options.height` pixels.
pub fn render(mesh: &IndexedMesh, options: &ThumbnailOptions) -> Result<image::RgbaImage, ThumbnailError> {
    let (width, height) = (options.width, options.height);
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(ThumbnailError::InvalidSize { width, height });
    }
    if !(1..=MAX_SUPERSAMPLE).contains(&options.supersample) {
        return Err(ThumbnailError::InvalidSupersample(options.supersample));
    }
    if mesh.triangles().is_empty() {
        return Err(ThumbnailError::EmptyMesh);
    }
    let ss = options.supersample.min(MAX_INTERNAL_SIDE / width.max(height)).max(1);
    let mut target = Target::new((width * ss) as usize, (height * ss) as usize);
    let camera = Camera::for_view(options.view);
    let projected = camera.project(mesh);
    let shadow = (options.shadow && options.view == View::Isometric).then(|| bed_shadow(&camera, &projected));
    let fit_points = [Some(projected.as_slice()), shadow.as_deref()];
    if let Some(fit) = Fit::new(&fit_points, mesh.triangles(), target.width, target.height) {
        if let Some(shadow) = &shadow {
            let screen = fit.to_screen(shadow);
            target.shadow = Some(shadow_mask(mesh.triangles(), &screen, target.width, target.height));
        }
        let screen = fit.to_screen(&projected);
        let light = camera.light();
        match options.shading {
            Shading::Flat => rasterise(&mut target, mesh.triangles(), &projected, &screen, light, None),
            Shading::Smooth => {
                let normals = vertex_normals(mesh.triangles(), &projected);
                rasterise(&mut target, mesh.triangles(), &projected, &screen, light, Some(&normals))
            }
        }
        if options.edge_darkening {
            target.darken_edges(EDGE_DEPTH_PIXELS / fit.scale);
        }
    }
    Ok(target.resolve(width, height, ss, options.colour, options.background))
}

/// Draws `mesh` like [`render`] and encodes the picture as PNG bytes.
pub fn render_png(mesh: &IndexedMesh, options: &ThumbnailOptions) -> Result<Vec<u8>, ThumbnailError> {
    let img = render(mesh, options)?;
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).map_err(|e| ThumbnailError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

type V3 = [f32; 3];

fn dot(a: V3, b: V3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn normalise(a: V3) -> V3 {
    let len = dot(a, a).sqrt();
    if len > 0.0 && len.is_finite() {
        [a[0] / len, a[1] / len, a[2] / len]
    } else {
        [0.0, 0.0, 1.0]
    }
}

/// An orthonormal camera frame in model space: picture right, picture up, and towards the viewer.
struct Camera {
    right: [f64; 3],
    up: [f64; 3],
    toward: [f64; 3],
}

impl Camera {
    fn for_view(view: View) -> Self {
        match view {
            View::Top => Self { right: [1.0, 0.0, 0.0], up: [0.0, 1.0, 0.0], toward: [0.0, 0.0, 1.0] },
            View::Front => Self { right: [1.0, 0.0, 0.0], up: [0.0, 0.0, 1.0], toward: [0.0, -1.0, 0.0] },
            View::Isometric => {
                // Looking from (1, -1, 1): the classic isometric angle, front right corner nearest.
                let s2 = std::f64::consts::FRAC_1_SQRT_2;
                let s3 = 1.0 / 3f64.sqrt();
                let s6 = 1.0 / 6f64.sqrt();
                Self { right: [s2, s2, 0.0], up: [-s6, s6, 2.0 * s6], toward: [s3, -s3, s3] }
            }
        }
    }

    /// Light direction in camera space (x right, y up, z towards the viewer): upper left, in front.
    fn light(&self) -> V3 {
        normalise([-0.45, 0.6, 0.66])
    }

    /// Every vertex in camera space, centred on the bounding box and scaled so the box's largest side
    /// is about 2. Done in `f64` so even absurd coordinates (±1e38) cannot overflow to infinity.
    fn project(&self, mesh: &IndexedMesh) -> Vec<V3> {
        let Some(bb) = mesh.bounding_box() else { return Vec::new() };
        let centre: [f64; 3] = std::array::from_fn(|i| (f64::from(bb.min[i]) + f64::from(bb.max[i])) / 2.0);
        let half = (0..3).map(|i| (f64::from(bb.max[i]) - f64::from(bb.min[i])) / 2.0).fold(0.0, f64::max);
        let inv = if half > 0.0 { 1.0 / half } else { 1.0 };
        let axes = [self.right, self.up, self.toward];
        mesh.vertices()
            .iter()
            .map(|v| {
                let d: [f64; 3] = std::array::from_fn(|i| (f64::from(v[i]) - centre[i]) * inv);
                axes.map(|a| (a[0] * d[0] + a[1] * d[1] + a[2] * d[2]) as f32)
            })
            .collect()
    }
}

/// The 2D similarity transform that fits the projected triangles into the internal picture.
struct Fit {
    /// Internal pixels per camera-space unit.
    scale: f32,
    centre: [f32; 2],
    half_size: [f32; 2],
}

impl Fit {
    /// Fits the vertices that triangles use (stray unused vertices must not shrink the model) of
    /// every given point set; `None` when no triangle refers to a usable vertex.
    fn new(point_sets: &[Option<&[V3]>], triangles: &[[u32; 3]], width: usize, height: usize) -> Option<Self> {
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for points in point_sets.iter().flatten() {
            for &i in triangles.iter().flatten() {
                let p = points.get(i as usize)?;
                for k in 0..2 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
            }
        }
        let (w, h) = (width as f32, height as f32);
        let margin = MARGIN_FRACTION * w.min(h);
        let avail = [(w - 2.0 * margin).max(1.0), (h - 2.0 * margin).max(1.0)];
        let extent = [hi[0] - lo[0], hi[1] - lo[1]];
        // A flat outline (a line or a point) is fitted along the axes that do have extent.
        let scale = (0..2).filter(|&k| extent[k] > 0.0).map(|k| avail[k] / extent[k]).fold(f32::INFINITY, f32::min);
        let scale = if scale.is_finite() { scale } else { 1.0 };
        Some(Self { scale, centre: [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0], half_size: [w / 2.0, h / 2.0] })
    }

    /// Fixed-point picture coordinates (x right, y down) for every vertex.
    fn to_screen(&self, projected: &[V3]) -> Vec<[i64; 2]> {
        // Unused vertices can land anywhere; clamping keeps every edge-function product in range.
        let limit = (2 * MAX_INTERNAL_SIDE) as f32 * SUBPIXEL_ONE;
        projected
            .iter()
            .map(|p| {
                let x = (self.half_size[0] + (p[0] - self.centre[0]) * self.scale) * SUBPIXEL_ONE;
                let y = (self.half_size[1] - (p[1] - self.centre[1]) * self.scale) * SUBPIXEL_ONE;
                [x.round().clamp(-limit, limit) as i64, y.round().clamp(-limit, limit) as i64]
            })
            .collect()
    }
}

/// Area-weighted vertex normals in camera space (not normalised; only their direction is used).
fn vertex_normals(triangles: &[[u32; 3]], projected: &[V3]) -> Vec<V3> {
    let mut normals = vec![[0.0f32; 3]; projected.len()];
    for t in triangles {
        let [a, b, c] = t.map(|i| projected[i as usize]);
        let n = cross(sub(b, a), sub(c, a));
        for &i in t {
            let v = &mut normals[i as usize];
            for k in 0..3 {
                v[k] += n[k];
            }
        }
    }
    normals
}

/// Brightness of a surface with unit normal `n` (camera space), before the back-face dimming.
fn lambert(n: V3, light: V3) -> f32 {
    AMBIENT + DIFFUSE * dot(n, light).max(0.0) + HEAD_LIGHT * n[2].max(0.0)
}

/// The internal (supersampled) frame: depth (larger is nearer) and brightness per sample.
struct Target {
    width: usize,
    height: usize,
    depth: Vec<f32>,
    shade: Vec<f32>,
    /// Bed shadow strength (0 to 1) per sample, when drawn.
    shadow: Option<Vec<f32>>,
}

impl Target {
    fn new(width: usize, height: usize) -> Self {
        let n = width * height;
        Self { width, height, depth: vec![f32::NEG_INFINITY; n], shade: vec![0.0; n], shadow: None }
    }

    /// Darkens covered samples whose right/left/upper/lower neighbour is empty or far behind/ahead.
    fn darken_edges(&mut self, threshold: f32) {
        let (w, h) = (self.width, self.height);
        let depth = &self.depth;
        let is_edge = |x: usize, y: usize| {
            let d = depth[y * w + x];
            let near = |nx: usize, ny: usize| {
                let nd = depth[ny * w + nx];
                // An empty neighbour (-inf) is a silhouette; NaN cannot occur but counts as an edge.
                (d - nd).abs() <= threshold
            };
            !((x == 0 || near(x - 1, y))
                && (x + 1 == w || near(x + 1, y))
                && (y == 0 || near(x, y - 1))
                && (y + 1 == h || near(x, y + 1)))
        };
        let mut edges = Vec::new();
        for y in 0..h {
            for x in 0..w {
                if depth[y * w + x] > f32::NEG_INFINITY && is_edge(x, y) {
                    edges.push(y * w + x);
                }
            }
        }
        for i in edges {
            self.shade[i] *= EDGE_DARKEN;
        }
    }

    /// Averages the samples of each output pixel, blending model and background in premultiplied
    /// alpha so the edges of a model over a transparent background stay clean.
    fn resolve(&self, width: u32, height: u32, ss: u32, colour: Rgba, background: Rgba) -> image::RgbaImage {
        let ss = ss as usize;
        let samples = (ss * ss) as f32;
        let bg_alpha = f32::from(background[3]) / 255.0;
        let bg = [0, 1, 2].map(|k| f32::from(background[k]) * bg_alpha);
        let base = [0, 1, 2].map(|k| f32::from(colour[k]));
        let mut img = image::RgbaImage::new(width, height);
        for (x, y, px) in img.enumerate_pixels_mut() {
            let (mut rgb, mut alpha) = ([0.0f32; 3], 0.0f32);
            for sy in 0..ss {
                let row = (y as usize * ss + sy) * self.width + x as usize * ss;
                for i in row..row + ss {
                    if self.depth[i] > f32::NEG_INFINITY {
                        let s = self.shade[i];
                        for k in 0..3 {
                            rgb[k] += (base[k] * s).min(255.0);
                        }
                        alpha += 1.0;
                    } else {
                        // The shadow is black at SHADOW_ALPHA, laid over the background.
                        let s = self.shadow.as_ref().map_or(0.0, |m| m[i] * SHADOW_ALPHA);
                        for k in 0..3 {
                            rgb[k] += bg[k] * (1.0 - s);
                        }
                        alpha += s + bg_alpha * (1.0 - s);
                    }
                }
            }
            *px = if alpha > 0.0 {
                let c = rgb.map(|v| (v / alpha).round().clamp(0.0, 255.0) as u8);
                image::Rgba([c[0], c[1], c[2], (alpha / samples * 255.0).round().clamp(0.0, 255.0) as u8])
            } else {
                image::Rgba([0, 0, 0, 0])
            };
        }
        img
    }
}

/// The range of sample centres (k + 1/2) inside a triangle's bounding box, clipped to the frame.
struct SampleBox {
    x0: i64,
    x1: i64,
    y0: i64,
    y1: i64,
}

impl SampleBox {
    /// `None` when the box holds no sample centre: most triangles of a dense mesh leave here, before
    /// any shading work.
    fn of(a: [i64; 2], b: [i64; 2], c: [i64; 2], width: usize, height: usize) -> Option<Self> {
        let first = |lo: i64| (lo - HALF_PIXEL_FX + (1 << SUBPIXEL_BITS) - 1) >> SUBPIXEL_BITS;
        let last = |hi: i64| (hi - HALF_PIXEL_FX) >> SUBPIXEL_BITS;
        let x0 = first(a[0].min(b[0]).min(c[0])).max(0);
        let x1 = last(a[0].max(b[0]).max(c[0])).min(width as i64 - 1);
        if x0 > x1 {
            return None;
        }
        let y0 = first(a[1].min(b[1]).min(c[1])).max(0);
        let y1 = last(a[1].max(b[1]).max(c[1])).min(height as i64 - 1);
        (y0 <= y1).then_some(Self { x0, x1, y0, y1 })
    }

    /// Calls `visit(sample index, weight of b, weight of c)` for every sample centre inside the
    /// triangle, which must have positive `area` (twice the fixed-point area, y down).
    #[inline(always)]
    fn scan(&self, [a, b, c]: [[i64; 2]; 3], area: i64, width: usize, mut visit: impl FnMut(usize, f32, f32)) {
        // Edge functions; e_ab(c) = area > 0. Ties on an edge go to exactly one of the two triangles
        // sharing it (the rule is antisymmetric in the edge direction), so there are no cracks.
        let px = (self.x0 << SUBPIXEL_BITS) + HALF_PIXEL_FX;
        let py = (self.y0 << SUBPIXEL_BITS) + HALF_PIXEL_FX;
        let edge = |p: [i64; 2], q: [i64; 2]| {
            let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
            let bias = if dy > 0 || (dy == 0 && dx < 0) { 0 } else { -1 };
            (dx * (py - p[1]) - dy * (px - p[0]) + bias, -dy << SUBPIXEL_BITS, dx << SUBPIXEL_BITS)
        };
        let (mut row_bc, step_x_bc, step_y_bc) = edge(b, c);
        let (mut row_ca, step_x_ca, step_y_ca) = edge(c, a);
        let (mut row_ab, step_x_ab, step_y_ab) = edge(a, b);
        let inv_area = 1.0 / area as f32;
        for y in self.y0..=self.y1 {
            let (mut e_bc, mut e_ca, mut e_ab) = (row_bc, row_ca, row_ab);
            let row = y as usize * width;
            for x in self.x0..=self.x1 {
                if (e_bc | e_ca | e_ab) >= 0 {
                    // Barycentric weights of b and c; the bias shifts them by at most 1/area.
                    visit(row + x as usize, e_ca as f32 * inv_area, e_ab as f32 * inv_area);
                }
                e_bc += step_x_bc;
                e_ca += step_x_ca;
                e_ab += step_x_ab;
            }
            row_bc += step_y_bc;
            row_ca += step_y_ca;
            row_ab += step_y_ab;
        }
    }
}

/// Twice the signed fixed-point area of a picture-space triangle (y down).
fn doubled_area(a: [i64; 2], b: [i64; 2], c: [i64; 2]) -> i64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

/// Draws every triangle into `target`. `normals` selects smooth shading.
fn rasterise(
    target: &mut Target,
    triangles: &[[u32; 3]],
    projected: &[V3],
    screen: &[[i64; 2]],
    light: V3,
    normals: Option<&[V3]>,
) {
    let (width, height) = (target.width, target.height);
    for t in triangles {
        let [ia, ib, ic] = t.map(|i| i as usize);
        let (a, mut b, mut c) = (screen[ia], screen[ib], screen[ic]);
        let Some(samples) = SampleBox::of(a, b, c, width, height) else { continue };
        let mut area = doubled_area(a, b, c);
        if area == 0 {
            continue; // degenerate on screen: edge-on or collapsed
        }
        // In picture coordinates y points down, so a front face (counter-clockwise seen from
        // outside) has a negative area; a positive one means we see the inside of the surface.
        let back = area > 0;
        let (pa, mut pb, mut pc) = (projected[ia], projected[ib], projected[ic]);
        let (mut nib, mut nic) = (ib, ic);
        if !back {
            // Make the winding positive so "inside" means all edge functions >= 0.
            std::mem::swap(&mut b, &mut c);
            std::mem::swap(&mut pb, &mut pc);
            std::mem::swap(&mut nib, &mut nic);
            area = -area;
        }
        // Positive picture area is clockwise seen from the camera, so this normal faces the viewer.
        let face = normalise(cross(sub(pc, pa), sub(pb, pa)));
        let dim = if back { BACK_FACE_DIM } else { 1.0 };
        let shade_of = |n: V3| lambert(n, light) * dim;
        let (sa, sb, sc) = match normals {
            None => {
                let s = shade_of(face);
                (s, s, s)
            }
            Some(normals) => {
                let corner = |vi: usize| {
                    let vn = normals[vi];
                    // Orient the vertex normal like the visible side of the face.
                    let vn = normalise(if back { [-vn[0], -vn[1], -vn[2]] } else { vn });
                    shade_of(if dot(vn, face) >= CREASE_COS { vn } else { face })
                };
                (corner(ia), corner(nib), corner(nic))
            }
        };
        let (za, dzb, dzc) = (pa[2], pb[2] - pa[2], pc[2] - pa[2]);
        let (dsb, dsc) = (sb - sa, sc - sa);
        let (depth, shade) = (&mut target.depth, &mut target.shade);
        samples.scan([a, b, c], area, width, |i, lb, lc| {
            let z = za + dzb * lb + dzc * lc;
            if z > depth[i] {
                depth[i] = z;
                shade[i] = sa + dsb * lb + dsc * lc;
            }
        });
    }
}

/// The mesh squashed onto the plane of its lowest point along the model's z axis (a light straight
/// overhead), in camera space: where its shadow falls on the bed.
fn bed_shadow(camera: &Camera, projected: &[V3]) -> Vec<V3> {
    let up = [camera.right[2], camera.up[2], camera.toward[2]].map(|c| c as f32);
    let floor = projected.iter().map(|&p| dot(p, up)).fold(f32::INFINITY, f32::min);
    projected
        .iter()
        .map(|&p| {
            let h = dot(p, up) - floor;
            [p[0] - h * up[0], p[1] - h * up[1], p[2] - h * up[2]]
        })
        .collect()
}

/// Coverage of the shadow outline, 0 or 1 per sample, then blurred so its edge is soft.
fn shadow_mask(triangles: &[[u32; 3]], screen: &[[i64; 2]], width: usize, height: usize) -> Vec<f32> {
    let mut mask = vec![0.0f32; width * height];
    for t in triangles {
        let [a, mut b, mut c] = t.map(|i| screen[i as usize]);
        let Some(samples) = SampleBox::of(a, b, c, width, height) else { continue };
        let mut area = doubled_area(a, b, c);
        if area == 0 {
            continue;
        }
        if area < 0 {
            std::mem::swap(&mut b, &mut c);
            area = -area;
        }
        samples.scan([a, b, c], area, width, |i, _, _| mask[i] = 1.0);
    }
    let radius = ((SHADOW_BLUR * width.min(height) as f32) as usize).max(1);
    box_blur(&mut mask, width, height, radius);
    mask
}

/// Two passes (rows, then columns) of a running-sum box blur of the given radius.
fn box_blur(data: &mut [f32], width: usize, height: usize, radius: usize) {
    let (mut src, mut out) = (Vec::new(), Vec::new());
    for y in 0..height {
        let row = &mut data[y * width..(y + 1) * width];
        src.clear();
        src.extend_from_slice(row);
        blur_line(&src, &mut out, radius);
        row.copy_from_slice(&out);
    }
    for x in 0..width {
        src.clear();
        src.extend((0..height).map(|y| data[y * width + x]));
        blur_line(&src, &mut out, radius);
        for (y, v) in out.iter().enumerate() {
            data[y * width + x] = *v;
        }
    }
}

/// One box-blurred line; samples beyond the ends count as zero, fading the shadow at the border.
fn blur_line(src: &[f32], out: &mut Vec<f32>, radius: usize) {
    out.clear();
    let n = src.len();
    let norm = 1.0 / (2 * radius + 1) as f32;
    let mut sum: f32 = src[..radius.min(n)].iter().sum();
    for i in 0..n {
        if i + radius < n {
            sum += src[i + radius];
        }
        out.push(sum * norm);
        if i >= radius {
            sum -= src[i - radius];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opaque_pixels(img: &image::RgbaImage) -> usize {
        img.pixels().filter(|p| p.0[3] == 255).count()
    }

    #[test]
    fn empty_mesh_is_a_clear_error() {
        let m = IndexedMesh::default();
        assert_eq!(render(&m, &ThumbnailOptions::default()), Err(ThumbnailError::EmptyMesh));
        let points_only = IndexedMesh::new(vec![[0.0; 3]; 3], vec![]).unwrap();
        assert_eq!(render(&points_only, &ThumbnailOptions::default()), Err(ThumbnailError::EmptyMesh));
    }

    #[test]
    fn rejects_bad_sizes_and_supersampling() {
        let m = IndexedMesh::cube(1.0);
        for (w, h) in [(0, 10), (10, 0), (MAX_SIDE + 1, 10)] {
            assert_eq!(
                render(&m, &ThumbnailOptions::sized(w, h)),
                Err(ThumbnailError::InvalidSize { width: w, height: h })
            );
        }
        let opts = ThumbnailOptions { supersample: 0, ..ThumbnailOptions::default() };
        assert_eq!(render(&m, &opts), Err(ThumbnailError::InvalidSupersample(0)));
    }

    #[test]
    fn cube_fills_the_middle_and_leaves_corners_transparent() {
        let img = render(&IndexedMesh::cube(10.0), &ThumbnailOptions::sized(64, 64)).unwrap();
        assert_eq!(img.dimensions(), (64, 64));
        assert_eq!(img.get_pixel(32, 32).0[3], 255);
        assert_eq!(img.get_pixel(0, 0).0[3], 0);
        // The isometric outline of a cube is a hexagon filling a good part of the picture.
        let covered = opaque_pixels(&img);
        assert!(covered > 64 * 64 / 3, "{covered}");
    }

    #[test]
    fn faces_get_different_brightness() {
        // Top, front and right faces of a cube in isometric view face different ways to the light.
        let opts = ThumbnailOptions { edge_darkening: false, ..ThumbnailOptions::sized(90, 90) };
        let img = render(&IndexedMesh::cube(10.0), &opts).unwrap();
        let top = img.get_pixel(45, 25).0;
        let left = img.get_pixel(30, 55).0;
        let right = img.get_pixel(60, 55).0;
        assert!(top != left && left != right && top != right, "{top:?} {left:?} {right:?}");
        assert!(top[3] == 255 && left[3] == 255 && right[3] == 255);
    }

    #[test]
    fn all_views_and_shadings_draw_something() {
        for view in [View::Isometric, View::Top, View::Front] {
            for shading in [Shading::Flat, Shading::Smooth] {
                let opts = ThumbnailOptions { view, shading, supersample: 1, ..ThumbnailOptions::sized(40, 30) };
                let img = render(&IndexedMesh::cube(3.0), &opts).unwrap();
                assert!(opaque_pixels(&img) > 100, "{view:?} {shading:?}");
            }
        }
    }

    #[test]
    fn background_is_used_where_nothing_is_drawn() {
        let opts = ThumbnailOptions { background: [10, 20, 30, 255], ..ThumbnailOptions::sized(32, 32) };
        let img = render(&IndexedMesh::cube(1.0), &opts).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [10, 20, 30, 255]);
        assert!(img.pixels().all(|p| p.0[3] == 255));
    }

    #[test]
    fn degenerate_meshes_do_not_panic() {
        // All triangles collapsed to a point, to a line, and a flat sheet seen edge-on.
        let point = IndexedMesh::new(vec![[5.0; 3]; 3], vec![[0, 1, 2], [0, 0, 0]]).unwrap();
        let line = IndexedMesh::new(vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], vec![[0, 1, 2]]).unwrap();
        let sheet =
            IndexedMesh::new(vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], vec![[0, 1, 2], [0, 2, 1]]).unwrap();
        let huge = IndexedMesh::new(
            vec![[-3e38, -3e38, -3e38], [3e38, -3e38, 0.0], [0.0, 3e38, 3e38], [1e-30, 0.0, 0.0]],
            vec![[0, 1, 2], [0, 2, 3]],
        )
        .unwrap();
        for m in [point, line, sheet, huge] {
            for view in [View::Isometric, View::Top, View::Front] {
                let opts = ThumbnailOptions { view, ..ThumbnailOptions::sized(16, 16) };
                let img = render(&m, &opts).unwrap();
                assert_eq!(img.dimensions(), (16, 16));
            }
        }
    }

    #[test]
    fn png_sizes_for_gcode_thumbnails() {
        let m = IndexedMesh::cube(20.0);
        for (w, h) in [(32, 32), (220, 124), (300, 300), (1, 1)] {
            let png = render_png(&m, &ThumbnailOptions::sized(w, h)).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (w, h));
        }
    }

    #[test]
    fn open_mesh_inside_is_dimmer_than_outside() {
        // A single triangle seen from both sides: the back is the dimmed inside.
        let v = vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let front = IndexedMesh::new(v.clone(), vec![[0, 1, 2]]).unwrap();
        let back = IndexedMesh::new(v, vec![[0, 2, 1]]).unwrap();
        let opts = ThumbnailOptions {
            view: View::Top,
            edge_darkening: false,
            shading: Shading::Flat,
            ..ThumbnailOptions::sized(20, 20)
        };
        let f = render(&front, &opts).unwrap().get_pixel(5, 14).0;
        let b = render(&back, &opts).unwrap().get_pixel(5, 14).0;
        assert_eq!((f[3], b[3]), (255, 255));
        assert!(f[0] > b[0], "{f:?} vs {b:?}");
    }

    #[test]
    fn shadow_darkens_the_bed_beside_a_model() {
        // The blurred contact shadow of a cube shows just outside its base.
        let opts = ThumbnailOptions { background: [255, 255, 255, 255], ..ThumbnailOptions::sized(64, 64) };
        let plain = render(&IndexedMesh::cube(10.0), &opts).unwrap();
        let shadowed = render(&IndexedMesh::cube(10.0), &ThumbnailOptions { shadow: true, ..opts }).unwrap();
        let darker = plain.pixels().zip(shadowed.pixels()).filter(|(a, b)| b.0[0] < a.0[0]).count();
        assert!(darker > 20, "{darker}");
        assert!(plain.pixels().zip(shadowed.pixels()).all(|(a, b)| b.0[0] <= a.0[0]));
    }

    #[test]
    fn dense_closed_mesh_has_no_cracks() {
        // A finely tessellated disc fan seen from above: every pixel centre inside must be covered,
        // which the exact edge functions and the tie rule guarantee.
        let n = 2000u32;
        let mut vertices = vec![[0.0, 0.0, 0.0]];
        vertices.extend((0..n).map(|i| {
            let a = std::f32::consts::TAU * i as f32 / n as f32;
            [a.cos(), a.sin(), 0.0]
        }));
        let triangles = (0..n).map(|i| [0, 1 + i, 1 + (i + 1) % n]).collect();
        let disc = IndexedMesh::new(vertices, triangles).unwrap();
        let opts = ThumbnailOptions { view: View::Top, supersample: 1, ..ThumbnailOptions::sized(101, 101) };
        let img = render(&disc, &opts).unwrap();
        for (x, y, p) in img.enumerate_pixels() {
            let (dx, dy) = (x as f32 - 50.0, y as f32 - 50.0);
            if dx * dx + dy * dy < 40.0 * 40.0 {
                assert_eq!(p.0[3], 255, "hole at {x},{y}");
            }
        }
    }

    #[test]
    fn big_pictures_reduce_supersampling_instead_of_failing() {
        let opts = ThumbnailOptions { supersample: MAX_SUPERSAMPLE, ..ThumbnailOptions::sized(MAX_SIDE, 8) };
        let img = render(&IndexedMesh::cube(1.0), &opts).unwrap();
        assert_eq!(img.dimensions(), (MAX_SIDE, 8));
    }
}
