//! Runs under `wasm-bindgen-test-runner` (Node) to prove the geometry core works as wasm32, the way
//! the browser editor uses it. On native targets this file compiles to nothing.
#![cfg(target_arch = "wasm32")]

use mesh::IndexedMesh;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn cube_volume_in_wasm() {
    let mut m = IndexedMesh::cube(3.0);
    m.translate([10.0, 20.0, 30.0]);
    assert!((m.signed_volume() - 27.0).abs() < 1e-6);
    assert_eq!(m.bounding_box().unwrap().min, [10.0, 20.0, 30.0]);
}
