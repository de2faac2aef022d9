//! Marching cubes feeding the thumbnail renderer, the way generation and the library use them.
//! Set `MESH_THUMBNAIL_DIR=/some/dir` to also write the rendered PNGs there for a look.

use mesh::marching_cubes::{marching_cubes, SdfGrid};
use mesh::thumbnail::{render, render_png, Shading, ThumbnailOptions, View};
use mesh::{Aabb, IndexedMesh};

fn save(name: &str, png: &[u8]) {
    if let Some(dir) = std::env::var_os("MESH_THUMBNAIL_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(name), png).expect("thumbnail dir is writable");
    }
}

fn torus_mesh() -> IndexedMesh {
    let torus = |p: [f32; 3]| ((p[0] * p[0] + p[1] * p[1]).sqrt() - 20.0).hypot(p[2]) - 7.0;
    let grid = SdfGrid::sample(Aabb { min: [-27.0, -27.0, -7.0], max: [27.0, 27.0, 7.0] }, 1.0, torus).unwrap();
    let mut m = marching_cubes(&grid);
    m.translate([0.0, 0.0, 7.0]);
    m
}

/// A box with a sphere bitten out of one corner and a cylinder hole: flat faces, creases and curves.
fn bracket_mesh() -> IndexedMesh {
    let sdf = |p: [f32; 3]| {
        let half = [15.0f32, 10.0, 8.0];
        let q = [0, 1, 2].map(|i| p[i].abs() - half[i]);
        let o = q.map(|c| c.max(0.0));
        let boxed = (o[0] * o[0] + o[1] * o[1] + o[2] * o[2]).sqrt() + q[0].max(q[1]).max(q[2]).min(0.0);
        let ball = ((p[0] - 15.0).powi(2) + (p[1] - 10.0).powi(2) + (p[2] - 8.0).powi(2)).sqrt() - 9.0;
        let hole = ((p[0] + 6.0).powi(2) + p[1].powi(2)).sqrt() - 4.0;
        boxed.max(-ball).max(-hole)
    };
    let grid = SdfGrid::sample(Aabb { min: [-15.0, -10.0, -8.0], max: [15.0, 10.0, 8.0] }, 0.5, sdf).unwrap();
    marching_cubes(&grid)
}

#[test]
fn marching_cubes_torus_renders_in_every_view() {
    let m = torus_mesh();
    assert!(m.signed_volume() > 0.0);
    for (name, view) in [("iso", View::Isometric), ("top", View::Top), ("front", View::Front)] {
        let opts = ThumbnailOptions { view, ..ThumbnailOptions::sized(256, 256) };
        let png = render_png(&m, &opts).unwrap();
        save(&format!("torus-{name}.png"), &png);
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        // The hole of the torus shows the background in the top and isometric views.
        if view != View::Front {
            assert_eq!(img.get_pixel(128, 128).0[3], 0, "{name}");
        }
        // Seen from the front the torus is a flat band, so it covers less of the square.
        let min_cover = if view == View::Front { 256 * 256 / 10 } else { 256 * 256 / 4 };
        assert!(img.pixels().filter(|p| p.0[3] == 255).count() > min_cover, "{name}");
    }
}

#[test]
fn gcode_thumbnail_sizes_of_a_bracket() {
    let m = bracket_mesh();
    for (w, h) in [(32, 32), (220, 124), (300, 300)] {
        let png = render_png(&m, &ThumbnailOptions::sized(w, h)).unwrap();
        save(&format!("bracket-{w}x{h}.png"), &png);
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (w, h));
    }
    let flat = ThumbnailOptions { shading: Shading::Flat, background: [255, 255, 255, 255], ..Default::default() };
    save("bracket-flat.png", &render_png(&m, &flat).unwrap());
    save("cube.png", &render_png(&IndexedMesh::cube(10.0), &ThumbnailOptions::default()).unwrap());
    let shadowed = ThumbnailOptions { shadow: true, background: [250, 250, 250, 255], ..Default::default() };
    save("bracket-shadow.png", &render_png(&m, &shadowed).unwrap());
    let transparent_shadow = ThumbnailOptions { shadow: true, ..Default::default() };
    save("torus-shadow.png", &render_png(&torus_mesh(), &transparent_shadow).unwrap());
}

#[test]
fn rendering_is_deterministic() {
    let m = bracket_mesh();
    let opts = ThumbnailOptions::sized(64, 48);
    assert_eq!(render(&m, &opts).unwrap(), render(&m, &opts).unwrap());
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any valid mesh, however degenerate, renders at any size without panicking.
        #[test]
        fn arbitrary_meshes_render(
            vertices in prop::collection::vec(prop::array::uniform3(-1e6f32..1e6), 1..12),
            raw in prop::collection::vec(prop::array::uniform3(0u32..64), 1..20),
            width in 1u32..70,
            height in 1u32..70,
            view in prop::sample::select(vec![View::Isometric, View::Top, View::Front]),
            shadow: bool,
        ) {
            let n = vertices.len() as u32;
            let triangles = raw.into_iter().map(|t| t.map(|i| i % n)).collect();
            let m = IndexedMesh::new(vertices, triangles).unwrap();
            let opts = ThumbnailOptions { view, shadow, ..ThumbnailOptions::sized(width, height) };
            let img = render(&m, &opts).unwrap();
            prop_assert_eq!(img.dimensions(), (width, height));
        }

        /// Any sign pattern on a small grid gives a closed surface with positive volume.
        #[test]
        fn arbitrary_grids_give_closed_surfaces(values in prop::collection::vec(-2.0f32..2.0, 60)) {
            let m = marching_cubes(&SdfGrid::new([3, 4, 5], [0.0; 3], 0.7, values).unwrap());
            let mut directed = std::collections::HashMap::new();
            for t in m.triangles() {
                for k in 0..3 {
                    *directed.entry((t[k], t[(k + 1) % 3])).or_insert(0) += 1;
                }
            }
            for (&(a, b), &count) in &directed {
                prop_assert_eq!(count, 1);
                prop_assert_eq!(directed.get(&(b, a)), Some(&1));
            }
            prop_assert!(m.triangles().is_empty() || m.signed_volume() > 0.0);
        }
    }
}
