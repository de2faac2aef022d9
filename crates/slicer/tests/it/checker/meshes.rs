//! The test meshes, centred on a 220 × 220 bed at (110, 110), standing on z = 0.

use mesh::{primitives, IndexedMesh};

pub const BED_CENTRE: [f32; 2] = [110.0, 110.0];

/// Every mesh by name: (name, what it exercises).
pub const ALL: [(&str, &str); 8] = [
    ("cube20", "20 mm cube, 12 triangles"),
    ("sphere40", "UV sphere r 20, 81 920 triangles"),
    ("torus", "torus R 20 r 7, 57 600 triangles"),
    ("tube", "thin-walled tube: outer r 10, 2 mm wall, 60 mm tall"),
    ("overhang", "bridge over a 10 mm gap plus a 45° overhang, as one prism"),
    ("tee", "T: a 10 mm stem under a 30 mm bar, 10 mm cantilevers that need support"),
    ("dense_sphere", "UV sphere r 30, 1 310 720 triangles"),
    ("holey_cube", "20 mm cube, 1 mm facets, a 2 × 2 mm hole in one side wall (open mesh)"),
];

/// Builds a mesh by name (see [`ALL`]); None for an unknown name.
pub fn build(name: &str) -> Option<IndexedMesh> {
    let m = match name {
        "cube20" => primitives::box_mesh([0.0; 3], [20.0; 3]),
        "sphere40" => primitives::uv_sphere(20.0, 256, 161),
        "torus" => primitives::torus(20.0, 7.0, 240, 120),
        "tube" => tube(10.0, 8.0, 60.0, 128),
        "overhang" => overhang(),
        "tee" => prism_xz(
            &[
                [0.0, 0.0],
                [10.0, 0.0],
                [10.0, 10.0],
                [20.0, 10.0],
                [20.0, 13.0],
                [-10.0, 13.0],
                [-10.0, 10.0],
                [0.0, 10.0],
            ],
            12.0,
        ),
        "dense_sphere" => primitives::uv_sphere(30.0, 1024, 641),
        "holey_cube" => holey_cube(),
        _ => return None,
    };
    Some(place(m))
}

/// Centres the mesh's XY bounding box on the bed centre and puts its lowest point on z = 0.
pub fn place(mut m: IndexedMesh) -> IndexedMesh {
    if let Some(b) = m.bounding_box() {
        let (min, max) = (b.min, b.max);
        m.translate([BED_CENTRE[0] - (min[0] + max[0]) / 2.0, BED_CENTRE[1] - (min[1] + max[1]) / 2.0, -min[2]]);
    }
    m
}

/// A closed tube (annulus prism) around the z axis.
pub fn tube(outer: f32, inner: f32, height: f32, segments: u32) -> IndexedMesh {
    let n = segments.max(3);
    let mut v = Vec::with_capacity(4 * n as usize);
    for (r, z) in [(outer, 0.0), (outer, height), (inner, 0.0), (inner, height)] {
        for j in 0..n {
            let a = std::f64::consts::TAU * f64::from(j) / f64::from(n);
            v.push([(f64::from(r) * a.cos()) as f32, (f64::from(r) * a.sin()) as f32, z]);
        }
    }
    let (ob, ot, ib, it) = (0, n, 2 * n, 3 * n);
    let mut t = Vec::with_capacity(8 * n as usize);
    for j in 0..n {
        let k = (j + 1) % n;
        // Outer wall faces out, inner wall faces in (towards the axis), caps up/down.
        t.push([ob + j, ob + k, ot + k]);
        t.push([ob + j, ot + k, ot + j]);
        t.push([ib + j, it + k, ib + k]);
        t.push([ib + j, it + j, it + k]);
        t.push([ot + j, ot + k, it + k]);
        t.push([ot + j, it + k, it + j]);
        t.push([ob + j, ib + k, ob + k]);
        t.push([ob + j, ib + j, ib + k]);
    }
    IndexedMesh::new(v, t).expect("tube indices are in range")
}

/// A profile in the XZ plane extruded 12 mm along y: two pillars joined by a slab (a 10 mm bridge
/// at z = 10) and, on the right, a 45° overhang rising from z = 4 to z = 14.
pub fn overhang() -> IndexedMesh {
    let profile: [[f64; 2]; 10] = [
        [0.0, 0.0],
        [10.0, 0.0],
        [10.0, 10.0],
        [20.0, 10.0],
        [20.0, 0.0],
        [28.0, 0.0],
        [28.0, 4.0],
        [38.0, 14.0],
        [38.0, 16.0],
        [0.0, 16.0],
    ];
    prism_xz(&profile, 12.0)
}

/// Extrudes a simple polygon given in (x, z) along +y by `depth`, closed and outward-facing.
pub fn prism_xz(profile: &[[f64; 2]], depth: f32) -> IndexedMesh {
    let n = profile.len() as u32;
    let mut v: Vec<[f32; 3]> = Vec::with_capacity(2 * profile.len());
    for y in [0.0, depth] {
        for p in profile {
            v.push([p[0] as f32, y, p[1] as f32]);
        }
    }
    let mut t = Vec::new();
    for tri in mesh::ops::triangulate::triangulate(profile, &[]) {
        let [a, b, c] = tri.map(|i| i as u32);
        t.push([a, b, c]);
        t.push([n + a, n + c, n + b]);
    }
    for j in 0..n {
        let k = (j + 1) % n;
        t.push([j, n + k, k]);
        t.push([j, n + j, n + k]);
    }
    let mut m = IndexedMesh::new(v, t).expect("prism indices are in range");
    if m.signed_volume() < 0.0 {
        let (v, t) = m.into_parts();
        m = IndexedMesh::new(v, t.into_iter().map(|[a, b, c]| [a, c, b]).collect()).expect("same indices");
    }
    m
}

/// A 20 mm cube tessellated into 1 mm squares (welded), with the two triangles of each of four
/// squares removed from the x = 20 wall: a 2 × 2 mm hole at y 9…11, z 9…11.
pub fn holey_cube() -> IndexedMesh {
    let n = 20u32;
    let mut index = std::collections::HashMap::new();
    let mut v: Vec<[f32; 3]> = Vec::new();
    let mut t: Vec<[u32; 3]> = Vec::new();
    let mut id = |p: [u32; 3], v: &mut Vec<[f32; 3]>| -> u32 {
        *index.entry(p).or_insert_with(|| {
            v.push(p.map(|c| c as f32));
            (v.len() - 1) as u32
        })
    };
    // Each face: axis held fixed at 0 or n, the two others spanning the square; winding outward.
    for axis in 0..3 {
        for side in [0, n] {
            let (u, w) = ((axis + 1) % 3, (axis + 2) % 3);
            for i in 0..n {
                for j in 0..n {
                    if axis == 0 && side == n && (9..11).contains(&i) && (9..11).contains(&j) {
                        continue;
                    }
                    let corner = |di: u32, dj: u32| {
                        let mut p = [0u32; 3];
                        p[axis] = side;
                        p[u] = i + di;
                        p[w] = j + dj;
                        p
                    };
                    let q = [corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)].map(|p| id(p, &mut v));
                    if side == n {
                        t.push([q[0], q[1], q[2]]);
                        t.push([q[0], q[2], q[3]]);
                    } else {
                        t.push([q[0], q[2], q[1]]);
                        t.push([q[0], q[3], q[2]]);
                    }
                }
            }
        }
    }
    IndexedMesh::new(v, t).expect("cube indices are in range")
}
