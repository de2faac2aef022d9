#!/usr/bin/env python3
"""Compare our volumes and areas with trimesh's for the STL files the geometry bench wrote.

Usage: pip install trimesh numpy; cargo bench -p mesh --bench geometry;
       python3 crates/mesh/benches/trimesh_check.py [DIR]
DIR defaults to $GEOMETRY_BENCH_OUT or <temp>/printfarm-geometry-bench. Exit status 1 when a
closed mesh differs by more than 0.1%.
"""
import csv
import os
import sys
import tempfile

import trimesh

GOAL = 1e-3  # 0.1 %


def main() -> int:
    default = os.environ.get("GEOMETRY_BENCH_OUT") or os.path.join(tempfile.gettempdir(), "printfarm-geometry-bench")
    out = sys.argv[1] if len(sys.argv) > 1 else default
    worst = 0.0
    print(f"{'mesh':<22}{'tris':>9}{'ours V mm3':>16}{'trimesh V':>16}{'dV %':>10}{'ours A mm2':>14}{'trimesh A':>14}{'dA %':>10}  watertight")
    with open(os.path.join(out, "manifest.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            m = trimesh.load(row["file"])
            ov, oa = float(row["volume_mm3"]), float(row["area_mm2"])
            tv, ta = float(m.volume), float(m.area)
            dv = abs(ov - tv) / abs(tv) if tv else abs(ov)
            da = abs(oa - ta) / abs(ta) if ta else abs(oa)
            if m.is_watertight:
                worst = max(worst, dv, da)
            print(f"{row['name']:<22}{row['triangles']:>9}{ov:>16.3f}{tv:>16.3f}{dv * 100:>10.1e}{oa:>14.3f}{ta:>14.3f}{da * 100:>10.1e}  {m.is_watertight}")
    print(f"worst relative difference on watertight meshes: {worst * 100:.2e} % (goal < {GOAL * 100} %)")
    return 0 if worst < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
