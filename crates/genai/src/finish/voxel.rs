//! The field path of [`super::finish`]: a signed-distance-like grid in arbitrary units becomes a clean,
//! printable occupancy at print scale, then a mesh.
//!
//! Everything here works on one working grid at print scale (millimetres, `h` mm per voxel) whose
//! values are a signed field in *voxel units* (negative inside, roughly the distance to the surface in
//! voxels near it). Each repair edits that field, never a separate boolean mask, so the occupancy the
//! repairs reason about (`value < 0`) is exactly what marching cubes sees, and values left alone keep
//! the generator's smooth surface.
//!
//! Connectivity: the mesh crate's marching cubes cuts every cube into the six Kuhn tetrahedra, so two
//! inside samples end up in the same solid exactly when a chain of *Kuhn edges* (the 14-neighbourhood
//! of ±x, ±y, ±z, ±(x+y), ±(x+z), ±(y+z), ±(x+y+z)) joins them, and the same holds for outside
//! samples. Components and cavities are therefore counted with that neighbourhood, which makes "one
//! solid component and no cavities on the grid" the same as "one closed shell" in the mesh.

use rayon::prelude::*;

use mesh::marching_cubes::SdfGrid;

use super::{Axis, BaseMode, FinishError, FinishOptions, Timings};

/// The most voxels the object's largest dimension may span; with the margins the grid stays about
/// 160 voxels on its longest side.
pub(super) const MAX_SPAN_VOXELS: f32 = 150.0;
/// Plinth height (mm) when the contact area is too small.
const PLINTH_MM: f32 = 1.5;
/// How far (mm) the plinth reaches beyond the object's shadow on the bed.
const PLINTH_MARGIN_MM: f32 = 1.0;
/// `Auto` cuts at most this much (mm) off the bottom to get a flat base, and at most this fraction
/// of the height; beyond that it adds a plinth instead.
const AUTO_MAX_CUT_MM: f32 = 2.0;
const AUTO_MAX_CUT_FRACTION: f32 = 0.10;
/// `Flatten` may cut up to this fraction of the height.
const FLATTEN_MAX_CUT_FRACTION: f32 = 0.25;
/// The contact area a part needs to stand and stick: 3 % of its footprint's bounding box, at least
/// 40 mm² (a 7 mm disc) and never required above 400 mm².
const CONTACT_FRACTION: f32 = 0.03;
const CONTACT_MIN_MM2: f32 = 40.0;
const CONTACT_MAX_MM2: f32 = 400.0;

/// Kuhn-edge neighbourhood (see the module docs).
const N14: [[i32; 3]; 14] = [
    [1, 0, 0],
    [-1, 0, 0],
    [0, 1, 0],
    [0, -1, 0],
    [0, 0, 1],
    [0, 0, -1],
    [1, 1, 0],
    [-1, -1, 0],
    [1, 0, 1],
    [-1, 0, -1],
    [0, 1, 1],
    [0, -1, -1],
    [1, 1, 1],
    [-1, -1, -1],
];

/// Every neighbour sharing a face, edge or corner: used on the generator's own grid, where a
/// generous notion of "touching" keeps thin diagonal details with the main body.
fn n26() -> Vec<[i32; 3]> {
    let mut v = Vec::with_capacity(26);
    for z in -1..=1 {
        for y in -1..=1 {
            for x in -1..=1 {
                if (x, y, z) != (0, 0, 0) {
                    v.push([x, y, z]);
                }
            }
        }
    }
    v
}

/// A signed-permutation rotation taking the generator's axes to z-up print axes: print axis `a` is
/// `sign[a]` times source axis `perm[a]`. All three are proper rotations (no mirroring).
#[derive(Debug, Clone, Copy)]
struct Orientation {
    perm: [usize; 3],
    sign: [f32; 3],
}

impl Orientation {
    fn for_up(up: Axis) -> Self {
        match up {
            Axis::Z => Self { perm: [0, 1, 2], sign: [1.0, 1.0, 1.0] },
            // Rotate +90° about x: (x, y, z) → (x, −z, y).
            Axis::Y => Self { perm: [0, 2, 1], sign: [1.0, -1.0, 1.0] },
            // Rotate −90° about y: (x, y, z) → (−z, y, x).
            Axis::X => Self { perm: [2, 1, 0], sign: [-1.0, 1.0, 1.0] },
        }
    }
}

/// The working grid: a signed field in voxel units, x fastest.
pub(super) struct Work {
    pub dims: [usize; 3],
    /// Position (mm) of voxel (0, 0, 0).
    pub origin: [f32; 3],
    /// Voxel size, mm.
    pub h: f32,
    pub values: Vec<f32>,
}

impl Work {
    fn layer(&self) -> usize {
        self.dims[0] * self.dims[1]
    }
    fn solid_mask(&self) -> Vec<bool> {
        self.values.par_iter().map(|&v| v < 0.0).collect()
    }
    pub fn into_grid(self) -> Result<SdfGrid, FinishError> {
        SdfGrid::new(self.dims, self.origin, self.h, self.values).map_err(|e| FinishError::BadGrid(e.to_string()))
    }
}

/// Runs the voxel stages and returns the cleaned grid (ready for marching cubes) and the size (mm) the
/// object's largest dimension should end up at.
pub(super) fn clean_field(
    src: &SdfGrid,
    up: Axis,
    opts: &FinishOptions,
    steps: &mut Vec<String>,
    timings: &mut Timings,
) -> Result<(Work, f32), FinishError> {
    src.check().map_err(|e| FinishError::BadGrid(e.to_string()))?;
    if src.dims.iter().any(|&d| d < 2) {
        return Err(FinishError::BadGrid("the grid needs at least 2 samples along each axis".into()));
    }
    let target = opts.target_size_mm.unwrap_or(crate::DEFAULT_SIZE_MM);

    // 1. The generator's own grid: keep its largest piece; its bounding box sets the scale.
    let t = timings.start();
    let inside: Vec<bool> = src.values.par_iter().map(|&v| v < 0.0).collect();
    let (labels, sizes) = components(src.dims, &inside, &n26());
    let Some(keep) = (1..sizes.len()).max_by_key(|&l| sizes[l]) else {
        return Err(FinishError::Empty);
    };
    let floaters = sizes.len() - 2;
    let [snx, sny, _] = src.dims;
    let (lo, hi) = labels
        .par_chunks(snx * sny)
        .enumerate()
        .map(|(z, slab)| {
            let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
            for (k, &l) in slab.iter().enumerate() {
                if l as usize == keep {
                    let c = [k % snx, k / snx, z];
                    for a in 0..3 {
                        lo[a] = lo[a].min(c[a]);
                        hi[a] = hi[a].max(c[a]);
                    }
                }
            }
            (lo, hi)
        })
        .reduce(
            || ([usize::MAX; 3], [0usize; 3]),
            |a, b| (std::array::from_fn(|k| a.0[k].min(b.0[k])), std::array::from_fn(|k| a.1[k].max(b.1[k]))),
        );
    // The field units per source voxel near the surface, to express values as distances.
    let grad = surface_gradient(src, &inside);
    // Samples outside the grid or NaN count as one source voxel outside; floaters are made outside.
    let pad = grad;
    let values: Vec<f32> = src
        .values
        .par_iter()
        .zip(labels.par_iter())
        .map(|(&v, &l)| {
            // NaN is outside; infinities are capped so interpolation stays finite.
            let v = if v.is_nan() { pad } else { v.clamp(-1e4 * pad, 1e4 * pad) };
            if v < 0.0 && l as usize != keep {
                (-v).max(pad * 1e-3)
            } else {
                v
            }
        })
        .collect();
    drop(inside);
    timings.stop("components (generator grid)", t);

    // 2. Orientation and scale: print-axis extents of the kept piece in source units (±half a sample).
    let o = Orientation::for_up(up);
    let mut wmin = [0f32; 3];
    let mut wmax = [0f32; 3];
    for a in 0..3 {
        let s = o.perm[a];
        let u0 = src.origin[s] + src.spacing * (lo[s] as f32 - 0.5);
        let u1 = src.origin[s] + src.spacing * (hi[s] as f32 + 0.5);
        let (w0, w1) = (o.sign[a] * u0, o.sign[a] * u1);
        wmin[a] = w0.min(w1);
        wmax[a] = w0.max(w1);
    }
    let largest = (0..3).map(|a| wmax[a] - wmin[a]).fold(0.0f32, f32::max);
    if !(largest > 0.0 && largest.is_finite()) {
        return Err(FinishError::Empty);
    }
    let scale = target / largest; // mm per source unit
    let h = opts.voxel_mm.max(target / MAX_SPAN_VOXELS);
    let r_vox = wall_radius_voxels(opts.min_wall_mm, h);
    let margin = 3 + r_vox.ceil() as usize + (PLINTH_MARGIN_MM / h).ceil() as usize;
    let below = margin + (PLINTH_MM / h).ceil() as usize + 2;
    let mut dims = [0usize; 3];
    let mut origin = [0f32; 3];
    for a in 0..3 {
        let extent = (wmax[a] - wmin[a]) * scale;
        let lower = if a == 2 { below } else { margin };
        dims[a] = (extent / h).ceil() as usize + 1 + lower + margin;
        origin[a] = wmin[a] * scale - lower as f32 * h;
    }
    // Source field units → working voxel units.
    let to_vox = (src.spacing * scale / h) / grad;

    // 3. Resample by trilinear interpolation (separable: each print axis reads one source axis).
    let t = timings.start();
    let tables: [Vec<(isize, f32)>; 3] = std::array::from_fn(|a| {
        let s = o.perm[a];
        (0..dims[a])
            .map(|i| {
                let mm = origin[a] + h * i as f32;
                let u = o.sign[a] * mm / scale;
                let c = (u - src.origin[s]) / src.spacing;
                let f = c.floor();
                (f as isize, c - f)
            })
            .collect()
    });
    let work_values = resample(&values, src, &o, &tables, dims, pad, to_vox);
    let mut work = Work { dims, origin, h, values: work_values };
    // Details the generator resolved but no working voxel centre fell in (thinner than a voxel): mark
    // the voxel nearest each such source sample solid, when nothing around it is.
    let rescued = rescue_thin(src, &labels, keep, &o, scale, &mut work);
    if rescued > 0 {
        steps.push(format!("kept {rescued} voxels of detail thinner than the {h:.2} mm grid"));
    }
    drop(labels);
    drop(values);
    timings.stop("resample", t);
    if !work.values.iter().any(|&v| v < 0.0) {
        return Err(FinishError::Empty);
    }

    // 4. Cavities: empty voxels the outside cannot reach become solid.
    let t = timings.start();
    let cavities = fill_cavities(&mut work);
    timings.stop("fill cavities", t);

    // 5. Minimum wall.
    let t = timings.start();
    let thickened = if r_vox > 0.0 { thicken(&mut work, r_vox) } else { 0 };
    if thickened > 0 {
        steps.push(format!("thickened thin parts to at least {:.1} mm ({} voxels added)", opts.min_wall_mm, thickened));
    }
    timings.stop("minimum wall", t);

    // 6. Base.
    let t = timings.start();
    if let Some(msg) = base(&mut work, opts.base) {
        steps.push(msg);
    }
    timings.stop("base", t);

    // 7. Final pass: thickening or the base may close new pockets, and pieces that only touch across
    // an edge or corner are joined (marching cubes would not join them): fill again, keep one piece.
    let t = timings.start();
    let mut cavities = cavities + if thickened > 0 { fill_cavities(&mut work) } else { 0 };
    let (dropped, bridged) = keep_main(&mut work);
    if bridged > 0 {
        cavities += fill_cavities(&mut work);
        steps.push("joined parts that touched only at an edge or a corner".to_string());
    }
    timings.stop("final components", t);
    let pieces = floaters + dropped;
    if pieces > 0 {
        steps.insert(0, format!("removed {} floating {}", pieces, if pieces == 1 { "piece" } else { "pieces" }));
    }
    if cavities > 0 {
        steps.push(format!("filled {} hidden {}", cavities, if cavities == 1 { "cavity" } else { "cavities" }));
    }
    Ok((work, target))
}

/// Trilinear resampling onto the working grid. The source is copied into a grid padded with `pad`
/// (one sample below, two above on each axis) so the inner loop needs no bounds checks; each print
/// axis reads one source axis, so the sample offsets separate per axis.
fn resample(
    values: &[f32],
    src: &SdfGrid,
    o: &Orientation,
    tables: &[Vec<(isize, f32)>; 3],
    dims: [usize; 3],
    pad: f32,
    to_vox: f32,
) -> Vec<f32> {
    let sd = src.dims;
    let pd = [sd[0] + 3, sd[1] + 3, sd[2] + 3];
    let pstride = [1, pd[0], pd[0] * pd[1]];
    let mut padded = vec![pad; pd[0] * pd[1] * pd[2]];
    padded.par_chunks_mut(pstride[2]).enumerate().for_each(|(pz, slab)| {
        if pz == 0 || pz > sd[2] {
            return;
        }
        let z = pz - 1;
        for y in 0..sd[1] {
            let from = sd[0] * (y + sd[1] * z);
            let to = 1 + pd[0] * (y + 1);
            slab[to..to + sd[0]].copy_from_slice(&values[from..from + sd[0]]);
        }
    });
    // Per print axis: offset into `padded`, interpolation weight, and the step to the next sample.
    let axis: [(Vec<(usize, f32)>, usize); 3] = std::array::from_fn(|a| {
        let s = o.perm[a];
        let n = sd[s] as isize;
        let t = tables[a]
            .iter()
            .map(|&(i, f)| {
                let (i, f) = if i < -1 {
                    (-1, 0.0)
                } else if i >= n {
                    (n, 0.0)
                } else {
                    (i, f)
                };
                ((i + 1) as usize * pstride[s], f)
            })
            .collect();
        (t, pstride[s])
    });
    let [nx, ny, nz] = dims;
    let (sx, sy, sz) = (axis[0].1, axis[1].1, axis[2].1);
    let mut out = vec![0f32; nx * ny * nz];
    out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, slab)| {
        let (oz, fz) = axis[2].0[z];
        for y in 0..ny {
            let (oy, fy) = axis[1].0[y];
            let row = &mut slab[nx * y..nx * (y + 1)];
            for (x, v) in row.iter_mut().enumerate() {
                let (ox, fx) = axis[0].0[x];
                let b = ox + oy + oz;
                let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
                let c00 = lerp(padded[b], padded[b + sx], fx);
                let c10 = lerp(padded[b + sy], padded[b + sy + sx], fx);
                let c01 = lerp(padded[b + sz], padded[b + sz + sx], fx);
                let c11 = lerp(padded[b + sz + sy], padded[b + sz + sy + sx], fx);
                *v = lerp(lerp(c00, c10, fy), lerp(c01, c11, fy), fz) * to_vox;
            }
        }
    });
    out
}

/// Half the minimum wall in voxels, plus a quarter voxel for the surface's sub-voxel placement; at
/// least one voxel so diagonal contacts always fuse. Zero (no thickening) when `min_wall_mm` is 0.
fn wall_radius_voxels(min_wall_mm: f32, h: f32) -> f32 {
    if min_wall_mm <= 0.0 {
        return 0.0;
    }
    (min_wall_mm / (2.0 * h) + 0.25).max(1.0)
}

/// Median field change per source sample across the surface: the factor that turns field values into
/// distances in source voxels (1 for a true SDF in units of the spacing).
fn surface_gradient(src: &SdfGrid, inside: &[bool]) -> f32 {
    let [nx, ny, nz] = src.dims;
    let v = &src.values;
    let plane = nx * ny;
    // Sign changes along +x, +y and +z in every other row of every other slab (a median needs no
    // more), at most ~200k in all.
    let cap = (400_000 / nz).max(16);
    let mut diffs: Vec<f32> = (0..nz)
        .into_par_iter()
        .step_by(2)
        .flat_map_iter(|z| {
            let mut out = Vec::new();
            'slab: for y in (0..ny).step_by(2) {
                for x in 0..nx {
                    let i = x + nx * y + plane * z;
                    for (ok, j) in [(x + 1 < nx, i + 1), (y + 1 < ny, i + nx), (z + 1 < nz, i + plane)] {
                        if ok && inside[i] != inside[j] && v[i].is_finite() && v[j].is_finite() {
                            out.push((v[j] - v[i]).abs());
                            if out.len() >= cap {
                                break 'slab;
                            }
                        }
                    }
                }
            }
            out
        })
        .collect();
    if diffs.is_empty() {
        return src.spacing.max(f32::MIN_POSITIVE);
    }
    let mid = diffs.len() / 2;
    let (_, m, _) = diffs.select_nth_unstable_by(mid, f32::total_cmp);
    if m.is_finite() && *m > 0.0 {
        *m
    } else {
        1.0
    }
}

/// See the call site: marks lost sub-voxel details. Returns the voxels set.
fn rescue_thin(src: &SdfGrid, labels: &[u32], keep: usize, o: &Orientation, scale: f32, work: &mut Work) -> usize {
    let [snx, sny, _] = src.dims;
    let [nx, ny, _] = work.dims;
    let values = &work.values;
    let mut candidates: Vec<usize> = labels
        .par_chunks(snx * sny)
        .enumerate()
        .flat_map_iter(|(z, slab)| {
            let mut out = Vec::new();
            for (k, &l) in slab.iter().enumerate() {
                if l as usize != keep {
                    continue;
                }
                let c = [k % snx, k / snx, z];
                let q: [isize; 3] = std::array::from_fn(|a| {
                    let s = o.perm[a];
                    let u = src.origin[s] + src.spacing * c[s] as f32;
                    let mm = o.sign[a] * u * scale;
                    ((mm - work.origin[a]) / work.h).round() as isize
                });
                if (0..3).any(|a| q[a] < 1 || q[a] as usize + 1 >= work.dims[a]) {
                    continue;
                }
                let (x, y, z) = (q[0] as usize, q[1] as usize, q[2] as usize);
                let any = (0..27).any(|n| {
                    let (dx, dy, dz) = (n % 3, (n / 3) % 3, n / 9);
                    values[(x + dx - 1) + nx * ((y + dy - 1) + ny * (z + dz - 1))] < 0.0
                });
                if !any {
                    out.push(x + nx * (y + ny * z));
                }
            }
            out
        })
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    for &i in &candidates {
        work.values[i] = -0.5;
    }
    candidates.len()
}

/// Connected components of `member` under `offsets` (a symmetric neighbourhood): a label per voxel
/// (0 = not a member) and each label's size (index 0 unused). Labels follow the order in which
/// components first appear in memory.
///
/// Works on runs along x: each row's runs are joined to overlapping runs of the rows the
/// neighbourhood reaches, with union–find, so the cost follows the number of runs (the surface), not
/// the number of voxels times the neighbourhood size.
fn components(dims: [usize; 3], member: &[bool], offsets: &[[i32; 3]]) -> (Vec<u32>, Vec<usize>) {
    let [nx, ny, nz] = dims;
    let rows = ny * nz;
    // Forward row links (dy, dz) > (0, 0) with the range of dx they allow.
    let mut links: Vec<(i32, i32, i32, i32)> = Vec::new();
    for o in offsets {
        if o[2] > 0 || (o[2] == 0 && o[1] > 0) {
            match links.iter_mut().find(|l| l.0 == o[1] && l.1 == o[2]) {
                Some(l) => {
                    l.2 = l.2.min(o[0]);
                    l.3 = l.3.max(o[0]);
                }
                None => links.push((o[1], o[2], o[0], o[0])),
            }
        }
    }
    let row_runs: Vec<Vec<(u32, u32)>> = member
        .par_chunks(nx)
        .map(|row| {
            let mut runs = Vec::new();
            let mut x = 0;
            while x < nx {
                if row[x] {
                    let start = x;
                    while x < nx && row[x] {
                        x += 1;
                    }
                    runs.push((start as u32, x as u32 - 1));
                } else {
                    x += 1;
                }
            }
            runs
        })
        .collect();
    let mut first = Vec::with_capacity(rows + 1);
    let mut total = 0usize;
    for r in &row_runs {
        first.push(total);
        total += r.len();
    }
    first.push(total);
    let mut parent: Vec<u32> = (0..total as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    for z in 0..nz {
        for y in 0..ny {
            let r = y + ny * z;
            let a = &row_runs[r];
            if a.is_empty() {
                continue;
            }
            for &(dy, dz, dx0, dx1) in &links {
                let (yy, zz) = (y as i64 + i64::from(dy), z as i64 + i64::from(dz));
                if yy < 0 || yy as usize >= ny || zz as usize >= nz {
                    continue;
                }
                let r2 = yy as usize + ny * zz as usize;
                let b = &row_runs[r2];
                // Run A reaches [a0 + dx0, a1 + dx1] in row r2; join with every run of B overlapping it.
                let mut j = 0;
                for (i, &(a0, a1)) in a.iter().enumerate() {
                    let (lo, hi) = (i64::from(a0) + i64::from(dx0), i64::from(a1) + i64::from(dx1));
                    while j < b.len() && i64::from(b[j].1) < lo {
                        j += 1;
                    }
                    let mut k = j;
                    while k < b.len() && i64::from(b[k].0) <= hi {
                        let (ra, rb) =
                            (find(&mut parent, (first[r] + i) as u32), find(&mut parent, (first[r2] + k) as u32));
                        if ra != rb {
                            parent[ra.max(rb) as usize] = ra.min(rb);
                        }
                        k += 1;
                    }
                }
            }
        }
    }
    // Compact labels in order of first appearance, and sizes.
    let mut label_of_root = vec![0u32; total];
    let mut run_label = vec![0u32; total];
    let mut sizes = vec![0usize];
    for (r, runs) in row_runs.iter().enumerate() {
        for (i, &(a0, a1)) in runs.iter().enumerate() {
            let root = find(&mut parent, (first[r] + i) as u32) as usize;
            if label_of_root[root] == 0 {
                label_of_root[root] = sizes.len() as u32;
                sizes.push(0);
            }
            let l = label_of_root[root];
            run_label[first[r] + i] = l;
            sizes[l as usize] += (a1 - a0 + 1) as usize;
        }
    }
    let mut labels = vec![0u32; member.len()];
    labels.par_chunks_mut(nx).enumerate().for_each(|(r, row)| {
        for (i, &(a0, a1)) in row_runs[r].iter().enumerate() {
            row[a0 as usize..=a1 as usize].fill(run_label[first[r] + i]);
        }
    });
    (labels, sizes)
}

/// Makes every empty voxel the outside cannot reach (Kuhn neighbourhood, from the grid's faces)
/// solid. Returns how many separate cavities were filled.
fn fill_cavities(work: &mut Work) -> usize {
    let [nx, ny, nz] = work.dims;
    let empty: Vec<bool> = work.values.par_iter().map(|&v| v >= 0.0).collect();
    let (labels, sizes) = components(work.dims, &empty, &N14);
    let mut outside = vec![false; sizes.len()];
    for z in 0..nz {
        for y in 0..ny {
            let row = nx * (y + ny * z);
            if y == 0 || z == 0 || y + 1 == ny || z + 1 == nz {
                for &l in &labels[row..row + nx] {
                    outside[l as usize] = true;
                }
            } else {
                outside[labels[row] as usize] = true;
                outside[labels[row + nx - 1] as usize] = true;
            }
        }
    }
    let cavities = (1..sizes.len()).filter(|&l| !outside[l]).count();
    if cavities > 0 {
        work.values.par_iter_mut().zip(&labels).for_each(|(v, &l)| {
            if l != 0 && !outside[l as usize] {
                *v = -0.5;
            }
        });
    }
    cavities
}

/// Solid components under the Kuhn neighbourhood.
fn piece_count(work: &Work) -> usize {
    components(work.dims, &work.solid_mask(), &N14).1.len() - 1
}

/// Joins pieces that touch only across an edge or corner marching cubes does not connect through
/// (the 12 "anti-diagonal" neighbours), with one or two voxels along a face path, then keeps the
/// largest solid component and empties the rest. Returns (pieces dropped, bridge voxels added).
fn keep_main(work: &mut Work) -> (usize, usize) {
    let anti: Vec<[i32; 3]> = n26().into_iter().filter(|o| !N14.contains(o)).collect();
    let [nx, ny, nz] = work.dims;
    let mut bridged = 0;
    for _round in 0..4 {
        let solid = work.solid_mask();
        let (labels, sizes) = components(work.dims, &solid, &N14);
        if sizes.len() <= 2 {
            return (0, bridged);
        }
        let big = (1..sizes.len()).max_by_key(|&l| sizes[l]).unwrap_or(1) as u32;
        let mut added = 0;
        for i in 0..labels.len() {
            let l = labels[i];
            if l == 0 || l == big {
                continue;
            }
            let p = [(i % nx) as i32, ((i / nx) % ny) as i32, (i / (nx * ny)) as i32];
            for o in &anti {
                let q = [p[0] + o[0], p[1] + o[1], p[2] + o[2]];
                if q.iter().zip([nx, ny, nz]).any(|(&c, n)| c < 0 || c as usize >= n) {
                    continue;
                }
                let qi = q[0] as usize + nx * (q[1] as usize + ny * q[2] as usize);
                if !solid[qi] || labels[qi] == l {
                    continue;
                }
                for via in [[p[0] + o[0], p[1], p[2]], [p[0] + o[0], p[1] + o[1], p[2]]] {
                    if via == p || via == q {
                        continue;
                    }
                    let vi = via[0] as usize + nx * (via[1] as usize + ny * via[2] as usize);
                    if work.values[vi] >= 0.0 {
                        work.values[vi] = -0.5;
                        added += 1;
                    }
                }
            }
        }
        if added == 0 {
            break;
        }
        bridged += added;
    }
    let solid = work.solid_mask();
    let (labels, sizes) = components(work.dims, &solid, &N14);
    if sizes.len() <= 2 {
        return (0, bridged);
    }
    let big = (1..sizes.len()).max_by_key(|&l| sizes[l]).unwrap_or(1) as u32;
    for (v, &l) in work.values.iter_mut().zip(&labels) {
        if l != 0 && l != big {
            *v = 0.5;
        }
    }
    (sizes.len() - 2, bridged)
}

/// Squared Euclidean distance (voxel units) from every voxel to the nearest voxel where `feature` is
/// true; `f32::INFINITY` when there is none. Felzenszwalb–Huttenlocher, one pass per axis.
pub(super) fn edt(dims: [usize; 3], feature: &[bool]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let mut d: Vec<f32> = feature.par_iter().map(|&f| if f { 0.0 } else { f32::INFINITY }).collect();
    // x: contiguous rows.
    d.par_chunks_mut(nx).for_each_init(
        || Line::new(nx),
        |line, row| {
            line.input[..nx].copy_from_slice(row);
            line.run(nx);
            row.copy_from_slice(&line.output[..nx]);
        },
    );
    // y: within each z-slice.
    if ny > 1 {
        d.par_chunks_mut(nx * ny).for_each_init(
            || Line::new(ny),
            |line, slab| {
                for x in 0..nx {
                    for y in 0..ny {
                        line.input[y] = slab[x + nx * y];
                    }
                    line.run(ny);
                    for y in 0..ny {
                        slab[x + nx * y] = line.output[y];
                    }
                }
            },
        );
    }
    // z: columns into a transposed buffer, then back slice by slice.
    if nz > 1 {
        let plane = nx * ny;
        let src = &d;
        let mut t = vec![0f32; d.len()];
        t.par_chunks_mut(nz).enumerate().for_each_init(
            || Line::new(nz),
            |line, (col, out)| {
                for z in 0..nz {
                    line.input[z] = src[col + plane * z];
                }
                line.run(nz);
                out.copy_from_slice(&line.output[..nz]);
            },
        );
        d.par_chunks_mut(plane).enumerate().for_each(|(z, slab)| {
            for (col, v) in slab.iter_mut().enumerate() {
                *v = t[col * nz + z];
            }
        });
    }
    d
}

/// Scratch for one 1-D squared distance transform (lower envelope of parabolas).
struct Line {
    input: Vec<f32>,
    output: Vec<f32>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Line {
    fn new(n: usize) -> Self {
        Self { input: vec![0.0; n], output: vec![0.0; n], v: vec![0; n], z: vec![0.0; n + 1] }
    }

    fn run(&mut self, n: usize) {
        let f = &self.input;
        let mut k: isize = -1;
        for q in 0..n {
            let fq = f[q];
            if !fq.is_finite() {
                continue;
            }
            let q2 = f64::from(fq) + (q * q) as f64;
            let mut s = f64::NEG_INFINITY;
            while k >= 0 {
                let p = self.v[k as usize];
                s = (q2 - (f64::from(f[p]) + (p * p) as f64)) / (2.0 * (q - p) as f64);
                if s <= self.z[k as usize] {
                    k -= 1;
                    s = f64::NEG_INFINITY;
                } else {
                    break;
                }
            }
            k += 1;
            self.v[k as usize] = q;
            self.z[k as usize] = s;
        }
        if k < 0 {
            self.output[..n].fill(f32::INFINITY);
            return;
        }
        let k = k as usize;
        let mut j = 0usize;
        for q in 0..n {
            while j < k && self.z[j + 1] < q as f64 {
                j += 1;
            }
            let p = self.v[j];
            let dq = q as f64 - p as f64;
            self.output[q] = (dq * dq + f64::from(f[p])) as f32;
        }
    }
}

/// Offsets of the voxels within `radius` of a voxel (Euclidean, voxel units), nearest first, with
/// their distances.
fn ball(radius: f32) -> Vec<([i32; 3], f32)> {
    let k = radius.floor() as i32;
    let mut out = Vec::new();
    for z in -k..=k {
        for y in -k..=k {
            for x in -k..=k {
                let d = ((x * x + y * y + z * z) as f32).sqrt();
                if d <= radius {
                    out.push(([x, y, z], d));
                }
            }
        }
    }
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out
}

/// Calls `f(index, distance)` for each voxel of the grid within the ball around voxel `i`; stops
/// early when `f` returns true. Returns whether it stopped.
#[inline]
fn any_in_ball(dims: [usize; 3], i: usize, ball: &[([i32; 3], f32)], mut f: impl FnMut(usize, f32) -> bool) -> bool {
    let [nx, ny, nz] = dims;
    let (x, y, z) = ((i % nx) as i64, ((i / nx) % ny) as i64, (i / (nx * ny)) as i64);
    for &(o, d) in ball {
        let (xx, yy, zz) = (x + i64::from(o[0]), y + i64::from(o[1]), z + i64::from(o[2]));
        if xx < 0 || yy < 0 || zz < 0 || xx as usize >= nx || yy as usize >= ny || zz as usize >= nz {
            continue;
        }
        if f(xx as usize + nx * (yy as usize + ny * zz as usize), d) {
            return true;
        }
    }
    false
}

/// Minimum wall by morphology, with a ball of radius `r` voxels (half the wall):
///
/// - the *opening* `O` (erode by the ball, then dilate) is every solid voxel that lies in some ball of
///   diameter `min_wall` inside the solid — the parts that are thick enough;
/// - the thin parts `T = solid \ O`; of those, the ones farther than `r` from `O` are thin *features*
///   (fins, plates, spikes, wires) rather than the rounded-off rims of sharp corners of thick parts;
/// - every such voxel gets the whole ball of radius `r` around it added (the field becomes
///   `min(field, distance − r)`, so the new surface is a smooth offset).
///
/// What that guarantees, on the voxel grid: every voxel of a thin feature, and every voxel added, lies
/// in a ball of diameter `min_wall` that is entirely solid afterwards. Not covered: the last `r` of a
/// thin feature where it joins a thick part (it tapers into the body there, which is supported
/// anyway), sharp corners of thick parts (left sharp on purpose), and detail the field never resolved.
///
/// Everything but the final growth touches only the surface band (voxels within `r` of the
/// surface), by testing ball offsets, so the cost follows the surface area, not the grid volume.
/// Returns the voxels added.
fn thicken(work: &mut Work, r: f32) -> usize {
    let dims = work.dims;
    let n = work.values.len();
    let [nx, ny, _] = dims;
    let layer = nx * ny;
    let solid = work.solid_mask();
    let b = ball(r);
    // Solid voxels within r of an empty one (not in the erosion): stamp the ball around every empty
    // voxel that has a solid face neighbour.
    let mut near_empty = vec![false; n];
    let face = [1isize, -1, nx as isize, -(nx as isize), layer as isize, -(layer as isize)];
    for i in layer..n.saturating_sub(layer) {
        if solid[i] || !face.iter().any(|&d| solid[(i as isize + d) as usize]) {
            continue;
        }
        any_in_ball(dims, i, &b, |j, _| {
            if solid[j] {
                near_empty[j] = true;
            }
            false
        });
    }
    // Thin: band voxels with no eroded voxel (solid, not near empty) within r.
    let band: Vec<usize> = (0..n).filter(|&i| near_empty[i]).collect();
    let thin: Vec<usize> =
        band.par_iter().copied().filter(|&i| !any_in_ball(dims, i, &b, |j, _| solid[j] && !near_empty[j])).collect();
    drop(band);
    if thin.is_empty() {
        return 0;
    }
    let mut is_thin = vec![false; n];
    for &i in &thin {
        is_thin[i] = true;
    }
    // Far: no thick (opening) voxel within r.
    let far: Vec<usize> =
        thin.par_iter().copied().filter(|&i| !any_in_ball(dims, i, &b, |j, _| solid[j] && !is_thin[j])).collect();
    drop(is_thin);
    drop(solid);
    if far.is_empty() {
        return 0;
    }
    // Grow: the field within r + 2 of a far voxel becomes min(field, distance − r). Stamping costs
    // |far| × |ball(r + 2)|; beyond a few grid volumes' worth, one distance transform is cheaper.
    let reach = r + 2.0;
    let big = ball(reach);
    let mut added = 0usize;
    let mut update = |v: &mut f32, d: f32| {
        let g = d - r - 1e-3;
        if g < *v {
            added += usize::from(*v >= 0.0 && g < 0.0);
            *v = g;
        }
    };
    if far.len() * big.len() <= 4 * n {
        let values = &mut work.values;
        for &i in &far {
            any_in_ball(dims, i, &big, |j, d| {
                update(&mut values[j], d);
                false
            });
        }
    } else {
        let mut mask = vec![false; n];
        for &i in &far {
            mask[i] = true;
        }
        let to_far = edt(dims, &mask);
        for (v, &d2) in work.values.iter_mut().zip(&to_far) {
            if d2 <= reach * reach {
                update(v, d2.sqrt());
            }
        }
    }
    added
}

/// Flat bottom: everything below layer `k` is emptied (+0.5) and solid voxels in layer `k` are set to
/// exactly −0.5, so every mesh vertex between the two layers lands exactly half-way: one plane. (The
/// side walls within layer `k` move by at most half a voxel.)
fn flatten_at(work: &mut Work, k: usize) {
    let layer = work.layer();
    for v in &mut work.values[..k * layer] {
        *v = 0.5;
    }
    for v in &mut work.values[k * layer..(k + 1) * layer] {
        if *v < 0.0 {
            *v = -0.5;
        }
    }
}

/// The base step (see [`BaseMode`]). Returns what it did, in words.
fn base(work: &mut Work, mode: BaseMode) -> Option<String> {
    if mode == BaseMode::None {
        return None;
    }
    let [nx, ny, nz] = work.dims;
    let layer = work.layer();
    let h = work.h;
    let counts: Vec<usize> = work.values.par_chunks(layer).map(|s| s.iter().filter(|&&v| v < 0.0).count()).collect();
    let kb = counts.iter().position(|&c| c > 0)?;
    let kt = counts.iter().rposition(|&c| c > 0)?;
    let height_mm = (kt - kb + 1) as f32 * h;
    // Footprint bounding box (XY) for the contact requirement.
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
    let mut shadow = vec![false; layer];
    for z in kb..=kt {
        for (i, &v) in work.values[z * layer..(z + 1) * layer].iter().enumerate() {
            if v < 0.0 {
                shadow[i] = true;
            }
        }
    }
    for (i, _) in shadow.iter().enumerate().filter(|(_, &s)| s) {
        let (x, y) = (i % nx, i / nx);
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let foot_mm2 = ((x1 - x0 + 1) as f32 * h) * ((y1 - y0 + 1) as f32 * h);
    let needed = (CONTACT_FRACTION * foot_mm2).clamp(CONTACT_MIN_MM2, CONTACT_MAX_MM2);
    let area = |k: usize| counts[k] as f32 * h * h;
    let max_cut_mm = match mode {
        BaseMode::Flatten => FLATTEN_MAX_CUT_FRACTION * height_mm,
        _ => AUTO_MAX_CUT_MM.min(AUTO_MAX_CUT_FRACTION * height_mm),
    };
    let max_k = (kb + (max_cut_mm / h).floor() as usize).min(kt);
    // A cut must not split the object (a U standing on its prongs' joint): undo it if it does. The
    // pieces are only counted when a cut is actually tried.
    let mut pieces: Option<usize> = None;
    let mut cut = |work: &mut Work, k: usize| -> bool {
        if k == kb {
            flatten_at(work, k); // only values below the lowest solid layer change
            return true;
        }
        let before = *pieces.get_or_insert_with(|| piece_count(work));
        let backup = work.values[..(k + 1) * layer].to_vec();
        flatten_at(work, k);
        if piece_count(work) > before {
            work.values[..(k + 1) * layer].copy_from_slice(&backup);
            return false;
        }
        true
    };
    if let Some(k) = (kb..=max_k).find(|&k| area(k) >= needed) {
        if cut(work, k) {
            return Some(if k > kb {
                format!("cut {:.1} mm off the bottom for a flat base of {:.0} mm²", (k - kb) as f32 * h, area(k))
            } else {
                format!("flattened the bottom ({:.0} mm² on the bed)", area(k))
            });
        }
    }
    if mode == BaseMode::Flatten {
        let k = (kb..=max_k).max_by(|&a, &b| area(a).total_cmp(&area(b))).unwrap_or(kb);
        let k = if cut(work, k) { k } else { kb };
        if k == kb {
            flatten_at(work, kb);
        }
        return Some(format!(
            "cut {:.1} mm off the bottom; the flat base is only {:.0} mm², so consider a brim",
            (k - kb) as f32 * h,
            area(k)
        ));
    }
    // Plinth: a slab under the object's shadow, grown by a margin, overlapping its lowest layer.
    let n = ((PLINTH_MM / h).ceil() as usize).max(2);
    if kb + 1 < n + 2 {
        return None; // cannot happen: the grid keeps room below (see `clean_field`)
    }
    let p0 = kb + 1 - n;
    let m = PLINTH_MARGIN_MM / h;
    let d2 = edt([nx, ny, 1], &shadow);
    let contact = area(kb);
    for z in (p0 - 1)..=(kb + 1).min(nz - 1) {
        let slab = ((p0 as f32 - 0.5) - z as f32).max(z as f32 - (kb as f32 + 0.5));
        let vals = &mut work.values[z * layer..(z + 1) * layer];
        for (v, &d) in vals.iter_mut().zip(&d2) {
            let p = (d.sqrt() - m).max(slab);
            if p < *v {
                *v = p;
            }
        }
    }
    flatten_at(work, p0);
    Some(format!("added a {:.1} mm base under it (only {:.0} mm² touched the bed)", n as f32 * h, contact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edt_matches_brute_force() {
        let dims = [7, 5, 6];
        let n = dims[0] * dims[1] * dims[2];
        let feature: Vec<bool> = (0..n).map(|i| i % 17 == 3 || i == 100).collect();
        let d = edt(dims, &feature);
        let coords = |i: usize| [i % 7, (i / 7) % 5, i / 35].map(|c| c as f32);
        for (i, &di) in d.iter().enumerate() {
            let p = coords(i);
            let best = (0..n)
                .filter(|&j| feature[j])
                .map(|j| {
                    let q = coords(j);
                    (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f32>()
                })
                .fold(f32::INFINITY, f32::min);
            assert_eq!(di, best, "voxel {i}");
        }
        assert!(edt(dims, &vec![false; n]).iter().all(|v| v.is_infinite()));
    }

    /// Plain flood fill, the definition `components` must match.
    fn components_by_flood(dims: [usize; 3], member: &[bool], offsets: &[[i32; 3]]) -> Vec<u32> {
        let [nx, ny, nz] = dims.map(|d| d as i64);
        let mut labels = vec![0u32; member.len()];
        let mut next = 0;
        for start in 0..member.len() {
            if !member[start] || labels[start] != 0 {
                continue;
            }
            next += 1;
            labels[start] = next;
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                let (x, y, z) = ((i as i64) % nx, (i as i64 / nx) % ny, i as i64 / (nx * ny));
                for o in offsets {
                    let (a, b, c) = (x + i64::from(o[0]), y + i64::from(o[1]), z + i64::from(o[2]));
                    if a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz {
                        continue;
                    }
                    let j = (a + nx * (b + ny * c)) as usize;
                    if member[j] && labels[j] == 0 {
                        labels[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        labels
    }

    #[test]
    fn run_components_match_flood_fill() {
        let dims = [13, 11, 9];
        let n = 13 * 11 * 9;
        let mut seed = 12345u64;
        for density in [0.2, 0.35, 0.5, 0.7] {
            let member: Vec<bool> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 33) as f64 / (1u64 << 31) as f64) < density
                })
                .collect();
            for offsets in [N14.to_vec(), n26()] {
                let (labels, sizes) = components(dims, &member, &offsets);
                assert_eq!(labels, components_by_flood(dims, &member, &offsets), "density {density}");
                assert_eq!(sizes.iter().sum::<usize>(), member.iter().filter(|&&m| m).count());
            }
        }
    }

    #[test]
    fn thin_plate_grows_and_thick_cube_keeps_its_corners() {
        let dims = [20, 20, 20];
        let at = |x: usize, y: usize, z: usize| x + 20 * (y + 20 * z);
        // One-voxel plate at z = 10.
        let mut values = vec![1.0f32; 8000];
        for y in 4..16 {
            for x in 4..16 {
                values[at(x, y, 10)] = -0.5;
            }
        }
        let mut w = Work { dims, origin: [0.0; 3], h: 0.4, values };
        assert!(thicken(&mut w, 1.75) > 0);
        assert!(w.values[at(10, 10, 9)] < 0.0 && w.values[at(10, 10, 11)] < 0.0);
        // An 8-voxel cube is thick everywhere but its corner voxels, which are not features.
        let mut values = vec![1.0f32; 8000];
        for z in 6..14 {
            for y in 6..14 {
                for x in 6..14 {
                    values[at(x, y, z)] = -0.5;
                }
            }
        }
        let mut w = Work { dims, origin: [0.0; 3], h: 0.4, values: values.clone() };
        assert_eq!(thicken(&mut w, 1.75), 0);
        assert_eq!(w.values, values);
    }

    fn block(w: &mut Work, lo: [usize; 3], hi: [usize; 3]) {
        let [nx, ny, _] = w.dims;
        for z in lo[2]..hi[2] {
            for y in lo[1]..hi[1] {
                for x in lo[0]..hi[0] {
                    w.values[x + nx * (y + ny * z)] = -0.5;
                }
            }
        }
    }

    #[test]
    fn pieces_touching_at_an_edge_are_joined() {
        let mut w = Work { dims: [16, 16, 16], origin: [0.0; 3], h: 0.4, values: vec![1.0; 4096] };
        block(&mut w, [3, 3, 3], [7, 7, 7]);
        // Shares only the edge x = 7, y = 3 (the anti-diagonal (+1, −1, 0) from the first block).
        block(&mut w, [7, 0, 3], [11, 3, 7]);
        assert_eq!(piece_count(&w), 2);
        let (dropped, bridged) = keep_main(&mut w);
        assert_eq!(dropped, 0);
        assert!(bridged > 0);
        assert_eq!(piece_count(&w), 1);
    }

    #[test]
    fn a_cut_that_would_split_the_object_is_undone() {
        // Two pillars joined only by a one-layer bar at the bottom.
        let make = || {
            let mut w = Work { dims: [32, 12, 30], origin: [0.0; 3], h: 0.4, values: vec![1.0; 32 * 12 * 30] };
            block(&mut w, [5, 3, 10], [25, 7, 11]);
            block(&mut w, [3, 1, 11], [11, 9, 28]);
            block(&mut w, [19, 1, 11], [27, 9, 28]);
            w
        };
        let mut w = make();
        let msg = base(&mut w, BaseMode::Flatten).unwrap();
        assert_eq!(piece_count(&w), 1, "{msg}");
        assert!(msg.starts_with("cut 0.0 mm"), "{msg}");
        let mut w = make();
        let msg = base(&mut w, BaseMode::Auto).unwrap();
        assert!(msg.contains("base under it"), "{msg}");
        assert_eq!(piece_count(&w), 1);
    }

    #[test]
    fn components_and_cavities_use_kuhn_neighbours() {
        // Two voxels touching along (+1, +1, 0) are one component; along (+1, −1, 0) they are not.
        let dims = [4, 4, 3];
        let mut m = vec![false; 48];
        m[1 + 4 * (1 + 4)] = true;
        m[2 + 4 * (2 + 4)] = true;
        assert_eq!(components(dims, &m, &N14).1.len(), 2);
        let mut m = vec![false; 48];
        m[2 + 4 * (1 + 4)] = true;
        m[1 + 4 * (2 + 4)] = true;
        assert_eq!(components(dims, &m, &N14).1.len(), 3);
        assert_eq!(components(dims, &m, &n26()).1.len(), 2);
    }

    #[test]
    fn cavity_is_filled_and_counted() {
        // A 5×5×5 solid cube with a one-voxel hole in the middle, inside a 9³ grid.
        let dims = [9, 9, 9];
        let mut values = vec![1.0f32; 729];
        for z in 2..7 {
            for y in 2..7 {
                for x in 2..7 {
                    values[x + 9 * (y + 9 * z)] = -1.0;
                }
            }
        }
        values[4 + 9 * (4 + 9 * 4)] = 1.0;
        let mut w = Work { dims, origin: [0.0; 3], h: 1.0, values };
        assert_eq!(fill_cavities(&mut w), 1);
        assert!(w.values[4 + 9 * (4 + 9 * 4)] < 0.0);
        assert_eq!(fill_cavities(&mut w), 0);
    }

    #[test]
    fn orientations_are_rotations() {
        for up in [Axis::X, Axis::Y, Axis::Z] {
            let o = Orientation::for_up(up);
            let mut m = [[0f32; 3]; 3];
            for a in 0..3 {
                m[a][o.perm[a]] = o.sign[a];
            }
            let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
            assert_eq!(det, 1.0, "{up:?}");
            // The chosen source axis ends up as print z.
            let want = match up {
                Axis::X => 0,
                Axis::Y => 1,
                Axis::Z => 2,
            };
            assert_eq!(o.perm[2], want);
        }
    }
}
