//! Geometry benchmarks (plain `Instant`, no harness): decimation, repair and validation of
//! million-triangle meshes, plus STL files and a manifest for `trimesh_check.py`, which compares
//! our volumes and areas with trimesh's.
//!
//! Run: `cargo bench -p mesh --bench geometry`, then `python3 crates/mesh/benches/trimesh_check.py`.
//! Output directory: `$GEOMETRY_BENCH_OUT`, default `<temp>/printfarm-geometry-bench`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mesh::ops::{self, cut, decimate, Plane};
use mesh::primitives::{box_mesh, cylinder, torus, uv_sphere};
use mesh::repair::{repair, RepairOptions};
use mesh::validate::validate;
use mesh::IndexedMesh;

/// A minimal binary STL writer, so this bench does not depend on the crate's own writer.
fn write_stl(path: &Path, m: &IndexedMesh) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(84 + 50 * m.triangle_count());
    buf.extend_from_slice(&[0u8; 80]);
    buf.extend_from_slice(&(m.triangle_count() as u32).to_le_bytes());
    let normals = ops::face_normals(m);
    for (t, n) in m.triangles().iter().zip(normals) {
        for c in n {
            buf.extend_from_slice(&c.to_le_bytes());
        }
        for &i in t {
            for c in m.vertices()[i as usize] {
                buf.extend_from_slice(&c.to_le_bytes());
            }
        }
        buf.extend_from_slice(&[0, 0]);
    }
    std::fs::write(path, buf)
}

/// CPU time this thread has run, in seconds (Linux; `None` elsewhere). On a shared, busy machine
/// the wall clock overstates single-core cost, so both are printed.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? / 1e9)
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let out = f();
    let wall = t0.elapsed().as_secs_f64() * 1e3;
    match (c0, cpu_seconds()) {
        (Some(a), Some(b)) => println!("{label:<48} {wall:>9.1} ms wall {:>9.1} ms cpu", (b - a) * 1e3),
        _ => println!("{label:<48} {wall:>9.1} ms wall"),
    }
    out
}

/// The same mesh as an unwelded soup with a small jitter, as a sloppy exporter writes it.
fn soup(m: &IndexedMesh) -> IndexedMesh {
    let mut v = Vec::with_capacity(m.triangle_count() * 3);
    let mut t = Vec::with_capacity(m.triangle_count());
    for (k, tri) in m.triangles().iter().enumerate() {
        let base = v.len() as u32;
        for &i in tri {
            let p = m.vertices()[i as usize];
            v.push([p[0] + 2e-5, p[1], p[2]]);
        }
        // Every 1000th face is written backwards.
        t.push(if k % 1000 == 7 { [base, base + 2, base + 1] } else { [base, base + 1, base + 2] });
    }
    IndexedMesh::new(v, t).expect("valid soup")
}

fn main() {
    let out: PathBuf = std::env::var_os("GEOMETRY_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("printfarm-geometry-bench"));
    std::fs::create_dir_all(&out).expect("output directory");
    // Cargo passes --bench; anything else (a filter) is ignored.
    println!("mesh geometry benchmarks (features: parallel={})", cfg!(feature = "parallel"));

    let sphere = time("build UV sphere (1000 x 500)", || uv_sphere(50.0, 1000, 500));
    println!("  sphere: {} triangles, {} vertices", sphere.triangle_count(), sphere.vertices().len());

    let ring = time("build torus (1000 x 500)", || torus(40.0, 12.0, 1000, 500));
    let ring_lod = time("decimate torus 1M -> 100,000 triangles", || decimate(&ring, 100_000));
    println!(
        "  lod: {} triangles, volume change {:.3}%",
        ring_lod.triangle_count(),
        100.0 * (ring_lod.signed_volume() - ring.signed_volume()) / ring.signed_volume()
    );
    drop((ring, ring_lod));
    if std::env::var_os("GEOMETRY_BENCH_DECIMATE_ONLY").is_some() {
        return;
    }
    // The UV sphere's poles have 1000 faces each: a worst case for the collapse bookkeeping.
    let lod = time("decimate sphere 1M -> 100,000 triangles", || decimate(&sphere, 100_000));
    println!(
        "  lod: {} triangles, volume change {:.3}%",
        lod.triangle_count(),
        100.0 * (lod.signed_volume() - sphere.signed_volume()) / sphere.signed_volume()
    );

    let report = time("validate sphere (1M triangles)", || validate(&sphere, Some([250.0, 210.0, 220.0])));
    println!("  printable: {}, shells {}", report.printable, report.shell_count);

    time("weld::weld_tolerance alone (sphere, 1e-4 mm)", || mesh::weld::weld_tolerance(&sphere, 1e-4));
    let (fixed, r) = time("repair welded sphere (1M triangles)", || repair(&sphere, &RepairOptions::default()));
    println!("  clean: {}, triangles {}", r.is_clean(), fixed.triangle_count());

    let broken = soup(&sphere);
    let (fixed, r) =
        time("repair unwelded, partly flipped soup (1M tris)", || repair(&broken, &RepairOptions::default()));
    println!(
        "  clean: {}, welded {}, flipped {}, vertices {}",
        r.is_clean(),
        r.vertices_welded,
        r.faces_flipped,
        fixed.vertices().len()
    );
    drop(broken);

    let (lo, hi) = time("cut sphere at z = 10", || cut(&sphere, &Plane::horizontal(10.0)).expect("valid plane"));
    time("vertex normals (1M triangles)", || ops::vertex_normals(&sphere));

    let mut tall = cylinder(20.0, 300.0, 256);
    ops::rotate_euler(&mut tall, [17.0, 31.0, 5.0]).expect("finite angles");
    let mut cases: Vec<(&str, IndexedMesh)> = vec![
        ("box", box_mesh([0.0; 3], [20.0, 30.0, 40.0])),
        ("sphere_1m", sphere),
        ("sphere_lod_100k", lod),
        ("sphere_repaired_soup", fixed),
        ("sphere_cut_below", lo),
        ("sphere_cut_above", hi),
        ("torus", torus(40.0, 12.0, 512, 256)),
        ("cylinder_tilted", tall),
    ];
    let (a, b) = cut(&cases[6].1, &Plane::through([3.0, 2.0, 1.0], [0.3, 0.5, 1.0])).expect("valid plane");
    cases.push(("torus_cut_a", a));
    cases.push(("torus_cut_b", b));

    let manifest = out.join("manifest.tsv");
    let mut f = std::fs::File::create(&manifest).expect("manifest");
    writeln!(f, "name\tfile\tvolume_mm3\tarea_mm2\ttriangles").expect("write");
    for (name, m) in &cases {
        let file = out.join(format!("{name}.stl"));
        write_stl(&file, m).expect("write STL");
        writeln!(
            f,
            "{name}\t{}\t{:.6}\t{:.6}\t{}",
            file.display(),
            m.signed_volume(),
            m.surface_area(),
            m.triangle_count()
        )
        .expect("write");
    }
    println!("wrote {} STL files and {}", cases.len(), manifest.display());
}
