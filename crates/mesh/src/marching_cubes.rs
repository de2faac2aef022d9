//! Surface extraction from a signed-distance grid ("marching cubes", done as marching tetrahedra).
//!
//! **Sign convention:** values are negative inside the solid and positive (or zero) outside; the
//! surface is the zero level. NaN counts as outside.
//!
//! Each grid cube is split into the six tetrahedra of the Freudenthal (Kuhn) triangulation, the same
//! way in every cube, so neighbouring cubes agree on how their shared faces are cut. Inside a
//! tetrahedron the surface is never ambiguous, which is why the output is always a closed, consistently
//! oriented 2-manifold — the classic 256-case cube table can leave holes on ambiguous faces. The grid is
//! treated as surrounded by one layer of "outside" samples, so the surface closes even where the solid
//! touches the grid boundary. Vertices sit on grid edges and are shared through an edge-index cache
//! holding two z-slices, so the output is welded by construction with bounded extra memory.
//!
//! ```
//! use mesh::marching_cubes::{marching_cubes, SdfGrid};
//! use mesh::Aabb;
//! // A ball of radius 5 mm: distance from the centre minus the radius, negative inside.
//! let ball = |p: [f32; 3]| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() - 5.0;
//! let grid = SdfGrid::sample(Aabb { min: [-5.0; 3], max: [5.0; 3] }, 0.5, ball).unwrap();
//! let mesh = marching_cubes(&grid);
//! assert!((mesh.signed_volume() - 523.6).abs() < 15.0);
//! ```

use crate::{Aabb, IndexedMesh, Vec3};

/// The value assumed outside the grid: positive means outside.
const PAD_OUTSIDE: f32 = 1.0;
/// Surface points are kept this fraction of an edge away from the grid samples, so a sample that is
/// exactly zero never produces coincident vertices or zero-area triangles.
const EDGE_T_MIN: f32 = 1e-3;
/// Largest grid `sample` builds (samples in total), so a typo in the spacing cannot exhaust memory.
pub const MAX_SAMPLES: usize = 1 << 26;
/// Marks an edge whose vertex has not been made yet.
const NO_VERTEX: u32 = u32::MAX;

/// Corner offsets of a cube as bit masks: bit 0 = +x, bit 1 = +y, bit 2 = +z.
const X: usize = 1;
const Y: usize = 2;
const Z: usize = 4;
/// The six Kuhn tetrahedra of a cube: walk from corner 0 to corner 7 adding one axis at a time in each
/// of the six orders. Odd orders have their last two corners swapped so every tetrahedron has positive
/// orientation (checked in the tests), which the triangle winding below relies on.
const TETS: [[usize; 4]; 6] =
    [[0, X, X | Y, 7], [0, X, 7, X | Z], [0, Y, 7, X | Y], [0, Y, Y | Z, 7], [0, Z, X | Z, 7], [0, Z, 7, Y | Z]];
/// For each tetrahedron corner, an even permutation of the corners starting with it.
const EVEN_FROM: [[usize; 4]; 4] = [[0, 1, 2, 3], [1, 0, 3, 2], [2, 0, 1, 3], [3, 0, 2, 1]];
/// For each pair of corners (as a 4-bit mask), an even permutation starting with that pair.
const EVEN_PAIR: [(u8, [usize; 4]); 6] = [
    (0b0011, [0, 1, 2, 3]),
    (0b1100, [2, 3, 0, 1]),
    (0b0101, [0, 2, 3, 1]),
    (0b1010, [1, 3, 2, 0]),
    (0b1001, [0, 3, 1, 2]),
    (0b0110, [1, 2, 0, 3]),
];

/// Samples of a scalar field on a regular grid, x fastest: `values[x + dims[0] * (y + dims[1] * z)]`
/// is the value at `origin + spacing * (x, y, z)`. Negative is inside (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SdfGrid {
    /// Samples along x, y and z.
    pub dims: [usize; 3],
    /// Position of sample (0, 0, 0), millimetres.
    pub origin: [f32; 3],
    /// Distance between neighbouring samples, millimetres.
    pub spacing: f32,
    /// Exactly `dims[0] * dims[1] * dims[2]` samples.
    pub values: Vec<f32>,
}

/// Why a grid could not be built.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SdfError {
    #[error("grid spacing {0} is not a positive finite number")]
    InvalidSpacing(f32),
    #[error("the bounds are not finite or have min > max")]
    InvalidBounds,
    #[error("a grid of {samples} samples is too large (limit {MAX_SAMPLES})")]
    TooLarge { samples: u128 },
    #[error("the grid origin is not finite")]
    InvalidOrigin,
    #[error("the grid dimensions call for {expected} samples but {got} were given")]
    ValuesMismatch { expected: u128, got: usize },
}

impl SdfGrid {
    /// Samples `f` (negative inside) every `spacing` mm over `bounds` grown by one spacing on every
    /// side, so a solid that touches the bounds is still cut cleanly rather than clipped by the padding.
    pub fn sample(bounds: Aabb, spacing: f32, f: impl Fn([f32; 3]) -> f32) -> Result<Self, SdfError> {
        if !(spacing.is_finite() && spacing > 0.0) {
            return Err(SdfError::InvalidSpacing(spacing));
        }
        if (0..3).any(|i| !bounds.min[i].is_finite() || !bounds.max[i].is_finite() || bounds.min[i] > bounds.max[i]) {
            return Err(SdfError::InvalidBounds);
        }
        let origin = bounds.min.map(|c| c - spacing);
        // One sample per spacing across the bounds (rounded up), plus a margin sample on both sides.
        let counts: [f64; 3] = std::array::from_fn(|i| {
            ((f64::from(bounds.max[i]) - f64::from(bounds.min[i])) / f64::from(spacing)).ceil() + 3.0
        });
        let total = counts.iter().product::<f64>();
        if total > MAX_SAMPLES as f64 {
            // `as` saturates, so an astronomically large grid reports u128::MAX.
            return Err(SdfError::TooLarge { samples: total as u128 });
        }
        let dims = counts.map(|n| n as usize);
        let samples = dims[0] * dims[1] * dims[2];
        let mut values = Vec::with_capacity(samples as usize);
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let p = [x, y, z].map(|k| k as f32);
                    values.push(f([0, 1, 2].map(|i| origin[i] + spacing * p[i])));
                }
            }
        }
        Ok(Self { dims, origin, spacing, values })
    }

    /// A grid from its parts, checked: positive finite spacing, finite origin, one value per sample.
    pub fn new(dims: [usize; 3], origin: [f32; 3], spacing: f32, values: Vec<f32>) -> Result<Self, SdfError> {
        let grid = Self { dims, origin, spacing, values };
        grid.check()?;
        Ok(grid)
    }

    /// Checks what [`SdfGrid::new`] checks, for a grid built from its public fields.
    pub fn check(&self) -> Result<(), SdfError> {
        if !(self.spacing.is_finite() && self.spacing > 0.0) {
            return Err(SdfError::InvalidSpacing(self.spacing));
        }
        if !self.origin.iter().all(|c| c.is_finite()) {
            return Err(SdfError::InvalidOrigin);
        }
        let expected = self.dims.iter().map(|&d| d as u128).product::<u128>();
        if expected != self.values.len() as u128 {
            return Err(SdfError::ValuesMismatch { expected, got: self.values.len() });
        }
        Ok(())
    }

    /// The sample at integer grid coordinates; outside the grid it is [`PAD_OUTSIDE`].
    fn at(&self, x: isize, y: isize, z: isize) -> f32 {
        let [nx, ny, nz] = self.dims;
        if x < 0 || y < 0 || z < 0 || x as usize >= nx || y as usize >= ny || z as usize >= nz {
            return PAD_OUTSIDE;
        }
        // `check` made the length match, so `get` only guards against a grid changed since.
        let v = self.values.get(x as usize + nx * (y as usize + ny * z as usize)).copied().unwrap_or(PAD_OUTSIDE);
        if v.is_nan() {
            PAD_OUTSIDE
        } else {
            v
        }
    }
}

/// The zero surface of `grid` as a closed, outward-facing (positive volume), welded 2-manifold mesh.
/// An all-outside grid, or one that fails [`SdfGrid::check`], gives an empty mesh.
pub fn marching_cubes(grid: &SdfGrid) -> IndexedMesh {
    if grid.check().is_err() || grid.values.is_empty() {
        return IndexedMesh::default();
    }
    let mut mc = Extractor::new(grid);
    // Cubes span the virtual padding: from sample -1 to sample `dims`, so the padding closes the surface.
    let [nx, ny, nz] = grid.dims.map(|d| d as isize);
    let mut lower = mc.slice(-1);
    for z in -1..nz {
        let upper = mc.slice(z + 1);
        for y in -1..ny {
            for x in -1..nx {
                mc.cube(x, y, z, &lower, &upper);
            }
        }
        lower = upper;
        mc.next_slice();
    }
    // Vertices interpolate between grid positions, so they are finite unless origin + spacing * index
    // overflows f32; such a grid gives an empty mesh instead of a panic.
    IndexedMesh::new(mc.vertices, mc.triangles).unwrap_or_default()
}

/// State of one extraction: the output and the two-slice edge cache.
struct Extractor<'a> {
    grid: &'a SdfGrid,
    /// Cache width and height: the grid plus one padding sample on each side.
    cw: usize,
    ch: usize,
    /// Vertex index per (cache point, edge direction 1..=7) for edges starting in the current slice.
    cur: Vec<u32>,
    /// The same for edges that start in the next slice (only in-slice directions are used there).
    next: Vec<u32>,
    vertices: Vec<Vec3>,
    triangles: Vec<[u32; 3]>,
}

impl<'a> Extractor<'a> {
    fn new(grid: &'a SdfGrid) -> Self {
        let (cw, ch) = (grid.dims[0] + 2, grid.dims[1] + 2);
        Self {
            grid,
            cw,
            ch,
            cur: vec![NO_VERTEX; cw * ch * 7],
            next: vec![NO_VERTEX; cw * ch * 7],
            vertices: Vec::new(),
            triangles: Vec::new(),
        }
    }

    /// The values of slice `z` including the padding ring, indexed like the cache.
    fn slice(&self, z: isize) -> Vec<f32> {
        let mut s = Vec::with_capacity(self.cw * self.ch);
        for y in -1..=(self.grid.dims[1] as isize) {
            for x in -1..=(self.grid.dims[0] as isize) {
                s.push(self.grid.at(x, y, z));
            }
        }
        s
    }

    /// Moves the cache one slice up.
    fn next_slice(&mut self) {
        std::mem::swap(&mut self.cur, &mut self.next);
        self.next.fill(NO_VERTEX);
    }

    fn cube(&mut self, x: isize, y: isize, z: isize, lower: &[f32], upper: &[f32]) {
        let base = (x + 1) as usize + self.cw * (y + 1) as usize;
        let corner_index = |c: usize| base + (c & X) + self.cw * ((c & Y) >> 1);
        let values: [f32; 8] = std::array::from_fn(|c| {
            let i = corner_index(c);
            if c & Z == 0 {
                lower[i]
            } else {
                upper[i]
            }
        });
        let inside = values.map(|v| v < 0.0);
        if inside.iter().all(|&b| b) || inside.iter().all(|&b| !b) {
            return; // no surface in this cube: the common case
        }
        for tet in TETS {
            let mask = (0..4).fold(0u8, |m, k| m | (u8::from(inside[tet[k]]) << k));
            match mask.count_ones() {
                1 | 3 => {
                    // One corner differs from the other three: one triangle around it.
                    let lone_inside = mask.count_ones() == 1;
                    let lone = (0..4).find(|&k| ((mask >> k) & 1 == 1) == lone_inside).unwrap_or(0);
                    let p = EVEN_FROM[lone].map(|k| tet[k]);
                    let e = [1, 2, 3].map(|k| self.edge_vertex(x, y, z, p[0], p[k], &values));
                    // Seen from the lone corner's side the triangle is clockwise; flip it when the
                    // lone corner is outside so the normal always points outward.
                    self.triangles.push(if lone_inside { e } else { [e[0], e[2], e[1]] });
                }
                2 => {
                    let Some(&(_, perm)) = EVEN_PAIR.iter().find(|(m, _)| *m == mask) else { continue };
                    let p = perm.map(|k| tet[k]);
                    // Inside p0, p1; outside p2, p3. The quad p0p2, p0p3, p1p3, p1p2 faces outward.
                    let q =
                        [(0, 2), (0, 3), (1, 3), (1, 2)].map(|(i, o)| self.edge_vertex(x, y, z, p[i], p[o], &values));
                    // Split along the shorter diagonal for better-shaped triangles.
                    let d02 = dist2(self.vertices[q[0] as usize], self.vertices[q[2] as usize]);
                    let d13 = dist2(self.vertices[q[1] as usize], self.vertices[q[3] as usize]);
                    if d02 <= d13 {
                        self.triangles.push([q[0], q[1], q[2]]);
                        self.triangles.push([q[0], q[2], q[3]]);
                    } else {
                        self.triangles.push([q[0], q[1], q[3]]);
                        self.triangles.push([q[1], q[2], q[3]]);
                    }
                }
                _ => {}
            }
        }
    }

    /// The vertex on the edge between cube corners `c0` and `c1` (one inside, one outside), made once
    /// and then found in the cache by its lower corner and direction.
    fn edge_vertex(&mut self, x: isize, y: isize, z: isize, c0: usize, c1: usize, values: &[f32; 8]) -> u32 {
        // Kuhn edges always join a corner to one whose offset is a superset of bits.
        let (lo, hi) = if c0 & c1 == c0 { (c0, c1) } else { (c1, c0) };
        let dir = hi & !lo;
        let slot = (x + 1) as usize + (lo & X) + self.cw * ((y + 1) as usize + ((lo & Y) >> 1));
        let key = slot * 7 + dir - 1;
        let cache = if lo & Z == 0 { &mut self.cur } else { &mut self.next };
        if cache[key] != NO_VERTEX {
            return cache[key];
        }
        let (v0, v1) = (values[lo], values[hi]);
        let t = (v0 / (v0 - v1)).clamp(EDGE_T_MIN, 1.0 - EDGE_T_MIN);
        let t = if t.is_nan() { 0.5 } else { t };
        let g = self.grid;
        let corner = [x + (lo & X) as isize, y + ((lo & Y) >> 1) as isize, z + ((lo & Z) >> 2) as isize];
        let step = [dir & X, (dir & Y) >> 1, (dir & Z) >> 2];
        let p: Vec3 = std::array::from_fn(|i| g.origin[i] + g.spacing * (corner[i] as f32 + t * step[i] as f32));
        let index = self.vertices.len() as u32;
        self.vertices.push(p);
        cache[key] = index;
        index
    }
}

fn dist2(a: Vec3, b: Vec3) -> f32 {
    (0..3).map(|i| (a[i] - b[i]) * (a[i] - b[i])).sum()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// Every undirected edge is used by exactly two faces, once in each direction (closed, oriented,
    /// edge-manifold), and the faces around every vertex form one fan (vertex-manifold).
    fn assert_closed_manifold(m: &IndexedMesh) {
        let mut directed: HashMap<(u32, u32), usize> = HashMap::new();
        for t in m.triangles() {
            assert!(t[0] != t[1] && t[1] != t[2] && t[0] != t[2], "triangle with repeated vertex {t:?}");
            for k in 0..3 {
                *directed.entry((t[k], t[(k + 1) % 3])).or_default() += 1;
            }
        }
        for (&(a, b), &n) in &directed {
            assert_eq!(n, 1, "directed edge {a}->{b} used {n} times");
            assert_eq!(directed.get(&(b, a)), Some(&1), "edge {a}->{b} has no opposite");
        }
        // Vertex fans: following "next edge around the vertex" from any face must visit all its faces.
        let mut around: HashMap<u32, HashMap<u32, u32>> = HashMap::new();
        for t in m.triangles() {
            for k in 0..3 {
                around.entry(t[k]).or_default().insert(t[(k + 1) % 3], t[(k + 2) % 3]);
            }
        }
        for (v, ring) in &around {
            let start = *ring.keys().next().unwrap();
            let (mut cur, mut steps) = (start, 0);
            loop {
                cur = ring[&cur];
                steps += 1;
                if cur == start {
                    break;
                }
                assert!(steps <= ring.len(), "vertex {v} fan does not close");
            }
            assert_eq!(steps, ring.len(), "vertex {v} is pinched (several fans)");
        }
    }

    fn euler(m: &IndexedMesh) -> i64 {
        let edges: HashSet<(u32, u32)> = m
            .triangles()
            .iter()
            .flat_map(|t| (0..3).map(move |k| (t[k].min(t[(k + 1) % 3]), t[k].max(t[(k + 1) % 3]))))
            .collect();
        m.vertices().len() as i64 - edges.len() as i64 + m.triangles().len() as i64
    }

    fn bounds(min: f32, max: f32) -> Aabb {
        Aabb { min: [min; 3], max: [max; 3] }
    }

    fn sphere(c: [f32; 3], r: f32) -> impl Fn([f32; 3]) -> f32 {
        move |p| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt() - r
    }

    #[test]
    fn tetrahedra_are_positively_oriented_and_fill_the_cube() {
        let pos = |c: usize| [c & X, (c & Y) >> 1, (c & Z) >> 2].map(|v| v as f32);
        let mut volume = 0.0;
        for tet in TETS {
            let [a, b, c, d] = tet.map(pos);
            let (u, v, w) =
                ([0, 1, 2].map(|i| b[i] - a[i]), [0, 1, 2].map(|i| c[i] - a[i]), [0, 1, 2].map(|i| d[i] - a[i]));
            let det = u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0])
                + u[2] * (v[0] * w[1] - v[1] * w[0]);
            assert!(det > 0.0, "{tet:?}");
            volume += det / 6.0;
        }
        assert!((volume - 1.0).abs() < 1e-6);
    }

    #[test]
    fn sphere_volume_within_one_percent() {
        let r = 10.0;
        let grid = SdfGrid::sample(bounds(-r, r), 0.4, sphere([0.0; 3], r)).unwrap();
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 2);
        let exact = 4.0 / 3.0 * std::f64::consts::PI * f64::from(r).powi(3);
        let v = m.signed_volume();
        assert!((v - exact).abs() / exact < 0.01, "{v} vs {exact}");
    }

    #[test]
    fn torus_has_genus_one() {
        let (big, small) = (10.0f32, 3.0f32);
        let torus = move |p: [f32; 3]| ((p[0] * p[0] + p[1] * p[1]).sqrt() - big).hypot(p[2]) - small;
        let grid = SdfGrid::sample(Aabb { min: [-13.0, -13.0, -3.0], max: [13.0, 13.0, 3.0] }, 0.5, torus).unwrap();
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 0);
        let exact = 2.0 * std::f64::consts::PI.powi(2) * f64::from(big) * f64::from(small).powi(2);
        assert!((m.signed_volume() - exact).abs() / exact < 0.03, "{}", m.signed_volume());
    }

    #[test]
    fn union_of_two_spheres_is_one_shell_and_apart_they_are_two() {
        let a = sphere([-4.0, 0.0, 0.0], 5.0);
        let b = sphere([4.0, 0.0, 0.0], 5.0);
        let grid =
            SdfGrid::sample(Aabb { min: [-9.0, -5.0, -5.0], max: [9.0, 5.0, 5.0] }, 0.5, |p| a(p).min(b(p))).unwrap();
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 2);
        assert!(m.signed_volume() > 0.0);

        let c = sphere([-8.0, 0.0, 0.0], 3.0);
        let d = sphere([8.0, 0.0, 0.0], 3.0);
        let grid =
            SdfGrid::sample(Aabb { min: [-11.0, -3.0, -3.0], max: [11.0, 3.0, 3.0] }, 0.5, |p| c(p).min(d(p))).unwrap();
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 4);
    }

    #[test]
    fn box_touching_the_grid_boundary_is_closed_by_the_padding() {
        // A solid filling the whole grid: the virtual outside padding must close it into a box.
        let grid = SdfGrid { dims: [4, 3, 5], origin: [0.0; 3], spacing: 1.0, values: vec![-1.0; 60] };
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 2);
        assert!(m.signed_volume() > 0.0);
        let bb = m.bounding_box().unwrap();
        assert!(bb.min.iter().all(|&c| c < 0.0 && c > -1.0) && bb.max[0] > 3.0 && bb.max[0] < 4.0, "{bb:?}");
    }

    #[test]
    fn box_sdf_has_the_right_volume() {
        let half = [6.0f32, 4.0, 2.5];
        let boxed = move |p: [f32; 3]| {
            let q = [0, 1, 2].map(|i| p[i].abs() - half[i]);
            let outside = q.map(|c| c.max(0.0));
            (outside[0].powi(2) + outside[1].powi(2) + outside[2].powi(2)).sqrt() + q[0].max(q[1]).max(q[2]).min(0.0)
        };
        let grid = SdfGrid::sample(Aabb { min: half.map(|h| -h), max: half }, 0.25, boxed).unwrap();
        let m = marching_cubes(&grid);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 2);
        let exact = 8.0 * f64::from(half[0] * half[1] * half[2]);
        assert!((m.signed_volume() - exact).abs() / exact < 0.02, "{} vs {exact}", m.signed_volume());
    }

    #[test]
    fn ambiguous_checkerboards_stay_manifold() {
        // Alternating signs are the ambiguous configurations that break a plain cube table.
        for seed in 0..4u32 {
            let dims = [6, 5, 4];
            let n = dims[0] * dims[1] * dims[2];
            let values = (0..n)
                .map(|i| {
                    let (x, y, z) = (i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1]));
                    let parity = (x + y + z + seed as usize).is_multiple_of(2);
                    let jitter = ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 97) as f32 / 97.0;
                    if parity {
                        -0.5 - jitter
                    } else {
                        0.5 + jitter
                    }
                })
                .collect();
            let m = marching_cubes(&SdfGrid { dims, origin: [0.0; 3], spacing: 1.0, values });
            assert_closed_manifold(&m);
            assert!(m.signed_volume() > 0.0);
        }
    }

    #[test]
    fn zeros_nans_and_random_fields_stay_manifold() {
        let mut state = 0x2545_f491_u32;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..20 {
            let dims = [5, 4, 6];
            let values = (0..120)
                .map(|_| match rnd() % 6 {
                    0 => 0.0,
                    1 => f32::NAN,
                    2 => -0.0,
                    k => (k as f32 - 4.0) * (rnd() % 100) as f32 / 50.0,
                })
                .collect();
            let m = marching_cubes(&SdfGrid { dims, origin: [1.0, 2.0, 3.0], spacing: 0.5, values });
            assert_closed_manifold(&m);
            if !m.triangles().is_empty() {
                assert!(m.signed_volume() > 0.0);
            }
        }
    }

    #[test]
    fn bad_grids_give_empty_meshes_or_errors() {
        let empty = |dims, spacing, values| marching_cubes(&SdfGrid { dims, origin: [0.0; 3], spacing, values });
        assert_eq!(empty([0, 3, 3], 1.0, vec![]).triangle_count(), 0);
        assert_eq!(empty([2, 2, 2], 0.0, vec![-1.0; 8]).triangle_count(), 0);
        assert_eq!(empty([2, 2, 2], f32::NAN, vec![-1.0; 8]).triangle_count(), 0);
        assert_eq!(empty([usize::MAX, 2, 2], 1.0, vec![]).triangle_count(), 0);
        assert_eq!(empty([2, 2, 2], 1.0, vec![1.0; 8]).triangle_count(), 0);
        assert_eq!(empty([3, 3, 3], 1.0, vec![-1.0; 5]).triangle_count(), 0, "too few values");
        assert_eq!(empty([3, 3, 3], f32::INFINITY, vec![-1.0; 27]).triangle_count(), 0);
        // A single inside sample makes a small closed blob around it.
        let mut values = vec![1.0; 27];
        values[13] = -1.0;
        let m = empty([3, 3, 3], 1.0, values);
        assert_closed_manifold(&m);
        assert_eq!(euler(&m), 2);
        assert!(m.signed_volume() > 0.0);

        assert_eq!(
            SdfGrid::new([2, 2, 2], [0.0; 3], 1.0, vec![0.0; 7]),
            Err(SdfError::ValuesMismatch { expected: 8, got: 7 })
        );
        assert_eq!(SdfGrid::new([1, 1, 1], [f32::NAN; 3], 1.0, vec![0.0]), Err(SdfError::InvalidOrigin));
        assert!(SdfGrid::new([1, 1, 1], [0.0; 3], 1.0, vec![-1.0]).is_ok());
        let f = |_: [f32; 3]| -1.0;
        assert_eq!(SdfGrid::sample(bounds(0.0, 1.0), 0.0, f), Err(SdfError::InvalidSpacing(0.0)));
        assert_eq!(SdfGrid::sample(bounds(1.0, 0.0), 1.0, f), Err(SdfError::InvalidBounds));
        assert!(matches!(SdfGrid::sample(bounds(0.0, 1e6), 0.01, f), Err(SdfError::TooLarge { .. })));
    }
}
