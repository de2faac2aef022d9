#!/usr/bin/env python3
"""Loads an STL with trimesh's default processing (merge vertices etc.) and prints the median time.

Usage: trimesh_load.py FILE [RUNS]   (pip install trimesh numpy). The file is what `cargo bench -p mesh
--bench load` writes: $TMPDIR/printfarm-bench/torus_1m.stl. Volume and area are computed too, as the
Rust benchmark does.
"""
import statistics
import sys
import time

import trimesh


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        mesh = trimesh.load(path)
        volume, area = mesh.volume, mesh.area
        _ = mesh.bounds
        times.append(time.perf_counter() - start)
    print(f"{len(mesh.faces)} triangles, {len(mesh.vertices)} vertices, volume {volume:.1f} mm3, area {area:.1f} mm2")
    print(f"trimesh.load + volume/area/bounds: median {statistics.median(times) * 1e3:.1f} ms over {runs} runs")


if __name__ == "__main__":
    main()
