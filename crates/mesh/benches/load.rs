//! Load benchmark: a 1,000,000-triangle binary STL (a finely tessellated torus) read, welded and
//! measured (volume, area, bounding box), timed over several runs; prints the median.
//!
//! `cargo bench -p mesh --bench load` generates the file under the temp dir and times it. Compare with
//! `python3 crates/mesh/benches/trimesh_load.py FILE` on the same file. For peak memory, run the bench
//! binary as `PRINTFARM_BENCH_ONCE=1 /usr/bin/time -v target/release/deps/load-* FILE` (loads once).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mesh::io::{read, read_file, write, Format, Limits};
use mesh::primitives::torus;
use mesh::Model;

fn ensure_file() -> PathBuf {
    let dir = std::env::temp_dir().join("printfarm-bench");
    let path = dir.join("torus_1m.stl");
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("temp dir");
        let model = Model::single("torus", torus(40.0, 15.0, 1000, 500));
        std::fs::write(&path, write(&model, Format::Stl).expect("STL")).expect("write STL");
    }
    path
}

fn measure(model: &Model) -> (f64, f64) {
    let m = &model.objects[0].mesh;
    std::hint::black_box(m.bounding_box());
    (m.signed_volume(), m.surface_area())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn once(path: &Path) {
    let t = Instant::now();
    let model = read_file(path, &Limits::default()).expect("read");
    let (volume, area) = measure(&model);
    println!(
        "loaded {} triangles, {} vertices in {:.1} ms; volume {volume:.1} mm³, area {area:.1} mm²",
        model.triangle_count(),
        model.objects[0].mesh.vertices().len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let path = arg.map(PathBuf::from).unwrap_or_else(ensure_file);
    if std::env::var_os("PRINTFARM_BENCH_ONCE").is_some() {
        once(&path);
        return;
    }
    let size = std::fs::metadata(&path).expect("file").len();
    println!("file {} ({:.1} MB)", path.display(), size as f64 / 1e6);
    let runs = 7;
    let mut from_file = Vec::new();
    let mut from_bytes = Vec::new();
    let mut facts = (0, 0, 0.0, 0.0);
    for _ in 0..runs {
        let t = Instant::now();
        let model = read_file(&path, &Limits::default()).expect("read_file");
        let (v, a) = measure(&model);
        from_file.push(t.elapsed());
        facts = (model.triangle_count(), model.objects[0].mesh.vertices().len(), v, a);

        let bytes = std::fs::read(&path).expect("read bytes");
        let t = Instant::now();
        let model = read(&bytes, Some("torus.stl"), &Limits::default()).expect("read");
        std::hint::black_box(measure(&model));
        from_bytes.push(t.elapsed());
    }
    println!("{} triangles, {} vertices, volume {:.1} mm³, area {:.1} mm²", facts.0, facts.1, facts.2, facts.3);
    println!(
        "read_file + weld + volume/area/bbox: median {:.1} ms over {runs} runs",
        median(from_file).as_secs_f64() * 1e3
    );
    println!(
        "read(bytes) + weld + volume/area/bbox: median {:.1} ms over {runs} runs",
        median(from_bytes).as_secs_f64() * 1e3
    );
}
