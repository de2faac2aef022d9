//! Fuzzes the whole pipeline with arbitrary triangle soups (open, inverted, self-intersecting, degenerate):
//! slicing returns G-code or an error, never panics or hangs.
//!
//! The check of the `slice_mesh` fuzz target: libFuzzer runs it (`fuzz_targets/slice_mesh.rs`) and so do
//! the crate's tests, over the committed seeds and their mutations (`fuzz-seeds`).

pub fn check(data: &[u8]) {
    // Each 9 bytes is a triangle; coordinates land on a coarse grid inside a 40 mm box on the bed.
    let tris: Vec<[[f32; 3]; 3]> = data
        .chunks_exact(9)
        .take(2_000)
        .map(|c| {
            let p = |i: usize| [60.0 + c[i] as f32 / 6.4, 60.0 + c[i + 1] as f32 / 6.4, c[i + 2] as f32 / 12.8];
            [p(0), p(3), p(6)]
        })
        .collect();
    let Ok(mesh) = mesh::weld::weld_exact(&tris) else { return };
    let mut profile = slicer::Profile::default();
    profile.quality.thumbnails.clear();
    profile.quality.layer_height = 0.3;
    profile.quality.first_layer_height = 0.3;
    profile.quality.supports.enabled = data.first().is_some_and(|b| b & 1 == 1);
    let plate = slicer::Plate::from_meshes(vec![("fuzz".into(), mesh)]);
    let _ = slicer::slice(&plate, &profile, &slicer::SliceControl::default());
}
