//! The editor's scene: parts (a mesh from `crates/mesh` and where it sits), the bed, the selection,
//! every operation a person can do, the undo history and the validation report. Pure Rust with no
//! browser types, so it is unit-tested natively and runs unchanged in the page (wasm).
//!
//! A part's vertices never change when it is moved, turned or scaled: only its [`Placement`] does,
//! so those edits cost one pass over the vertices (for the new bounds). Cutting makes new meshes.

use std::cell::Cell;
use std::sync::Arc;

use glam::{EulerRot, Mat4, Quat, Vec3};
use mesh::ops::placed::{lay_flat_rotation, placed_bounds, raycast, RayHit};
use mesh::{Aabb, IndexedMesh, Model, ModelObject};

use super::text;

/// The bed used when the farm has no printer to say otherwise: x, y, z in mm.
pub const DEFAULT_BED: [f32; 3] = [220.0, 220.0, 250.0];
/// Space left between parts by auto-arrange, mm (as the farm's plates use).
pub const ARRANGE_SPACING_MM: f32 = 6.0;
/// Room kept free around a part scaled to fit the bed, mm.
pub const FIT_MARGIN_MM: f32 = 5.0;
/// A part this far above the bed (mm) counts as floating.
const FLOAT_MM: f32 = 0.01;
/// The smallest size a part may be scaled to, mm.
const MIN_SIZE_MM: f32 = 0.1;
/// How many steps undo remembers.
const HISTORY_LIMIT: usize = 100;

/// Where a part sits: scale (in its own axes), then rotation, then translation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub translation: Vec3,
    pub rotation: Quat,
    pub scale: Vec3,
}

impl Default for Placement {
    fn default() -> Self {
        Self { translation: Vec3::ZERO, rotation: Quat::IDENTITY, scale: Vec3::ONE }
    }
}

impl Placement {
    /// Part → bed coordinates.
    pub fn matrix(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(self.scale, self.rotation, self.translation)
    }
}

/// One part on the plate.
#[derive(Debug, Clone)]
pub struct Part {
    /// Stable while the editor is open (undo keeps it).
    pub id: u32,
    pub name: String,
    /// Shared, never modified: undo snapshots and copies point at the same vertices.
    pub mesh: Arc<IndexedMesh>,
    pub placement: Placement,
    /// Closed surface with no holes and no edge shared by more than two faces.
    pub watertight: bool,
    /// The bounds for the placement they were computed for: the panel, the report, the gizmo and
    /// the renderer all ask after every change, and a million-triangle part takes milliseconds.
    bounds_cache: Cell<Option<(Placement, Aabb)>>,
}

impl Part {
    pub fn matrix(&self) -> Mat4 {
        self.placement.matrix()
    }

    /// The bounding box as placed (a zero box at the origin for an empty mesh).
    pub fn bounds(&self) -> Aabb {
        if let Some((placement, b)) = self.bounds_cache.get() {
            if placement == self.placement {
                return b;
            }
        }
        let b = placed_bounds(&self.mesh, &self.matrix()).unwrap_or(Aabb { min: [0.0; 3], max: [0.0; 3] });
        self.bounds_cache.set(Some((self.placement, b)));
        b
    }
}

/// Which halves a cut keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Both,
    Below,
    Above,
}

/// An axis of the numeric fields.
pub const AXES: [&str; 3] = ["X", "Y", "Z"];

/// Whether a mesh is closed (what "watertight" means to a slicer).
pub fn is_watertight(mesh: &IndexedMesh) -> bool {
    if mesh.triangle_count() == 0 {
        return false;
    }
    // The linear check, not the sorted edge map: it runs on both halves of every cut.
    mesh::topology::is_closed(mesh.triangles(), mesh.vertices().len())
}

/// The plate being edited.
#[derive(Debug, Clone)]
pub struct Scene {
    pub parts: Vec<Part>,
    /// The selected part's id.
    pub selected: Option<u32>,
    /// Build volume x, y, z (mm); the bed's corner is the origin.
    pub bed: [f32; 3],
    next_id: u32,
}

impl Default for Scene {
    fn default() -> Self {
        Self::new(DEFAULT_BED)
    }
}

impl Scene {
    pub fn new(bed: [f32; 3]) -> Self {
        Self { parts: Vec::new(), selected: None, bed, next_id: 1 }
    }

    fn fresh_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn part(&self, id: u32) -> Option<&Part> {
        self.parts.iter().find(|p| p.id == id)
    }

    fn part_mut(&mut self, id: u32) -> Option<&mut Part> {
        self.parts.iter_mut().find(|p| p.id == id)
    }

    pub fn selected_part(&self) -> Option<&Part> {
        self.selected.and_then(|id| self.part(id))
    }

    pub fn triangle_count(&self) -> usize {
        self.parts.iter().map(|p| p.mesh.triangle_count()).sum()
    }

    /// Adds every object of a model as a part (any transform in the file is applied to the vertices).
    /// The new parts keep their places when they already stand inside the bed's footprint; otherwise
    /// they are centred on the bed as a group. Returns the new parts' ids.
    pub fn add_model(&mut self, model: Model, name: &str) -> Vec<u32> {
        let many = model.objects.len() > 1;
        let mut ids = Vec::new();
        for (i, o) in model.objects.into_iter().enumerate() {
            let mesh = if o.transform == Mat4::IDENTITY { o.mesh } else { o.placed_mesh() };
            if mesh.triangle_count() == 0 {
                continue;
            }
            let part_name = if !many {
                name.to_string()
            } else if o.name.trim().is_empty() {
                format!("{name} {}", i + 1)
            } else {
                o.name.clone()
            };
            ids.push(self.add_mesh(Arc::new(mesh), part_name));
        }
        let group: Option<Aabb> =
            ids.iter().filter_map(|&id| self.part(id)).map(Part::bounds).reduce(|a, b| a.union(&b));
        if let Some(g) = group {
            let inside = g.min[0] >= 0.0 && g.min[1] >= 0.0 && g.max[0] <= self.bed[0] && g.max[1] <= self.bed[1];
            let dx = if inside { 0.0 } else { self.bed[0] * 0.5 - (g.min[0] + g.max[0]) * 0.5 };
            let dy = if inside { 0.0 } else { self.bed[1] * 0.5 - (g.min[1] + g.max[1]) * 0.5 };
            let dz = if inside && g.min[2] >= 0.0 { 0.0 } else { -g.min[2] };
            for &id in &ids {
                if let Some(p) = self.part_mut(id) {
                    p.placement.translation += Vec3::new(dx, dy, dz);
                }
            }
        }
        ids
    }

    /// Adds one mesh as a part at the origin; returns its id.
    pub fn add_mesh(&mut self, mesh: Arc<IndexedMesh>, name: String) -> u32 {
        let id = self.fresh_id();
        let watertight = is_watertight(&mesh);
        self.parts.push(Part {
            id,
            name,
            mesh,
            placement: Placement::default(),
            watertight,
            bounds_cache: Cell::new(None),
        });
        id
    }

    /// Adds a copy of a part next to the others (auto-arranged); returns the copy's id.
    pub fn add_copy(&mut self, id: u32) -> Option<u32> {
        let mut copy = self.part(id)?.clone();
        copy.id = self.fresh_id();
        copy.name = text::copy_name(&copy.name);
        let new_id = copy.id;
        self.parts.push(copy);
        self.arrange();
        self.selected = Some(new_id);
        Some(new_id)
    }

    pub fn remove(&mut self, id: u32) -> bool {
        let before = self.parts.len();
        self.parts.retain(|p| p.id != id);
        if self.selected == Some(id) {
            self.selected = None;
        }
        self.parts.len() != before
    }

    /// Moves a part by `delta` mm.
    pub fn translate(&mut self, id: u32, delta: Vec3) -> bool {
        if !delta.is_finite() {
            return false;
        }
        match self.part_mut(id) {
            Some(p) => {
                p.placement.translation += delta;
                true
            }
            None => false,
        }
    }

    /// Sets one position field: X and Y are the centre of the part's footprint, Z its lowest point.
    pub fn set_position(&mut self, id: u32, axis: usize, value: f32) -> bool {
        let Some(b) = self.part(id).map(Part::bounds) else { return false };
        if !value.is_finite() || axis > 2 {
            return false;
        }
        let now = if axis == 2 { b.min[2] } else { (b.min[axis] + b.max[axis]) * 0.5 };
        let mut delta = Vec3::ZERO;
        delta[axis] = value - now;
        self.translate(id, delta)
    }

    /// The position fields of a part: footprint centre x, y and lowest z.
    pub fn position(&self, id: u32) -> Option<[f32; 3]> {
        let b = self.part(id)?.bounds();
        Some([(b.min[0] + b.max[0]) * 0.5, (b.min[1] + b.max[1]) * 0.5, b.min[2]])
    }

    /// Changes a part's placement, then puts it back where it stood: same footprint centre, same
    /// lowest point (a part on the bed stays on the bed while it turns or grows).
    fn reshape(&mut self, id: u32, change: impl FnOnce(&mut Placement)) -> bool {
        let Some(before) = self.position(id) else { return false };
        let Some(p) = self.part_mut(id) else { return false };
        let old = p.placement;
        change(&mut p.placement);
        if !(p.placement.rotation.is_finite() && p.placement.scale.is_finite() && p.placement.translation.is_finite()) {
            p.placement = old;
            return false;
        }
        // One pass over the vertices for the new bounds, then one move back into place.
        let b = p.bounds();
        let now = Vec3::new((b.min[0] + b.max[0]) * 0.5, (b.min[1] + b.max[1]) * 0.5, b.min[2]);
        p.placement.translation += Vec3::from(before) - now;
        true
    }

    /// The rotation fields of a part, degrees about x, y and z.
    pub fn rotation_degrees(&self, id: u32) -> Option<[f32; 3]> {
        let (x, y, z) = self.part(id)?.placement.rotation.to_euler(EulerRot::XYZ);
        Some([x, y, z].map(|r| clean_degrees(r.to_degrees())))
    }

    /// Sets the rotation fields (degrees about x, y, z).
    pub fn set_rotation_degrees(&mut self, id: u32, degrees: [f32; 3]) -> bool {
        if degrees.iter().any(|d| !d.is_finite()) {
            return false;
        }
        let [x, y, z] = degrees.map(f32::to_radians);
        self.reshape(id, |p| p.rotation = Quat::from_euler(EulerRot::XYZ, x, y, z))
    }

    /// Turns a part about the vertical axis through its centre.
    pub fn rotate_z(&mut self, id: u32, degrees: f32) -> bool {
        self.reshape(id, |p| p.rotation = (Quat::from_rotation_z(degrees.to_radians()) * p.rotation).normalize())
    }

    /// The size fields: the placed bounding box, mm.
    pub fn size(&self, id: u32) -> Option<[f32; 3]> {
        Some(self.part(id)?.bounds().size())
    }

    /// Sets a part's size along a bed axis to `mm`. With `uniform` every axis grows by the same
    /// factor; otherwise the part stretches along its own axis closest to that bed axis.
    pub fn set_size(&mut self, id: u32, axis: usize, mm: f32, uniform: bool) -> bool {
        let Some(size) = self.size(id) else { return false };
        if axis > 2 || !mm.is_finite() || mm < MIN_SIZE_MM || size[axis] <= 0.0 {
            return false;
        }
        let factor = mm / size[axis];
        if uniform {
            return self.scale_by(id, factor);
        }
        self.reshape(id, |p| {
            let world = Vec3::AXES[axis];
            let own = (0..3)
                .max_by(|&a, &b| {
                    (p.rotation * Vec3::AXES[a])
                        .dot(world)
                        .abs()
                        .total_cmp(&(p.rotation * Vec3::AXES[b]).dot(world).abs())
                })
                .unwrap_or(axis);
            p.scale[own] *= factor;
        })
    }

    /// Scales a part by the same factor on every axis.
    pub fn scale_by(&mut self, id: u32, factor: f32) -> bool {
        if !(factor.is_finite() && factor > 0.0) {
            return false;
        }
        let Some(size) = self.size(id) else { return false };
        if size.iter().any(|&s| s > 0.0 && s * factor < MIN_SIZE_MM) {
            return false;
        }
        self.reshape(id, |p| p.scale *= factor)
    }

    /// Puts a part's lowest point on the bed.
    pub fn place_on_bed(&mut self, id: u32) -> bool {
        self.set_position(id, 2, 0.0)
    }

    /// Centres a part on the bed and places it on it.
    pub fn centre(&mut self, id: u32) -> bool {
        let [x, y, _] = self.bed;
        self.set_position(id, 0, x * 0.5) && self.set_position(id, 1, y * 0.5) && self.place_on_bed(id)
    }

    /// Turns a part so triangle `face` lies on the bed, keeping its footprint centre.
    pub fn lay_flat(&mut self, id: u32, face: usize) -> Result<(), String> {
        let Some(before) = self.position(id) else { return Err(text::NO_PART.into()) };
        let part = self.part(id).ok_or(text::NO_PART)?;
        let q = lay_flat_rotation(&part.mesh, &part.matrix(), face).map_err(|e| e.to_string())?;
        if let Some(p) = self.part_mut(id) {
            p.placement.rotation = (q * p.placement.rotation).normalize();
            p.placement.translation = q * p.placement.translation;
        }
        self.set_position(id, 0, before[0]);
        self.set_position(id, 1, before[1]);
        self.place_on_bed(id);
        Ok(())
    }

    /// Scales a part (up or down) to the largest size that fits the bed with a margin, and centres it.
    pub fn scale_to_fit(&mut self, id: u32) -> Result<f32, String> {
        let size = self.size(id).ok_or(text::NO_PART)?;
        let factor = (0..3)
            .filter(|&i| size[i] > 0.0)
            .map(|i| (self.bed[i] - 2.0 * FIT_MARGIN_MM) / size[i])
            .fold(f32::INFINITY, f32::min);
        if !(factor.is_finite() && factor > 0.0) {
            return Err(text::CANNOT_FIT.into());
        }
        self.scale_by(id, factor);
        self.centre(id);
        Ok(factor)
    }

    /// Cuts a part with the horizontal plane at height `z` (mm above the bed). The halves kept
    /// become new parts, each closed with a flat cap and standing on the bed. Returns their ids.
    pub fn cut(&mut self, id: u32, z: f32, keep: Keep) -> Result<Vec<u32>, String> {
        let part = self.part(id).ok_or(text::NO_PART)?.clone();
        let b = part.bounds();
        if !(z.is_finite() && z > b.min[2] && z < b.max[2]) {
            return Err(text::cut_outside(b.min[2], b.max[2]));
        }
        let mut placed = (*part.mesh).clone();
        placed.transform(&part.matrix());
        let (below, above) = mesh::ops::cut(&placed, &mesh::ops::Plane::horizontal(z)).map_err(|e| e.to_string())?;
        let index = self.parts.iter().position(|p| p.id == id).ok_or(text::NO_PART)?;
        self.parts.remove(index);
        let mut ids = Vec::new();
        let halves = [(below, keep != Keep::Above, text::BOTTOM), (above, keep != Keep::Below, text::TOP)];
        for (half, wanted, label) in halves {
            if !wanted || half.triangle_count() == 0 {
                continue;
            }
            let new_id = self.add_mesh(Arc::new(half), format!("{} ({label})", part.name));
            // Both halves stand on the bed: the top half on its flat cut face.
            self.place_on_bed(new_id);
            ids.push(new_id);
        }
        if ids.len() > 1 {
            self.arrange();
        }
        self.selected = ids.first().copied();
        Ok(ids)
    }

    /// Packs every part onto the bed without overlap. Returns the names of parts that did not fit.
    pub fn arrange(&mut self) -> Vec<String> {
        let boxes: Vec<Aabb> = self.parts.iter().map(Part::bounds).collect();
        let footprints: Vec<[f32; 2]> = boxes.iter().map(|b| [b.size()[0], b.size()[1]]).collect();
        let spots = mesh::ops::arrange_footprints(&footprints, [self.bed[0], self.bed[1]], ARRANGE_SPACING_MM);
        let mut left_out = Vec::new();
        for ((p, spot), b) in self.parts.iter_mut().zip(spots).zip(boxes) {
            match spot {
                Some([x, y]) => p.placement.translation += Vec3::new(x - b.min[0], y - b.min[1], -b.min[2]),
                None => left_out.push(p.name.clone()),
            }
        }
        left_out
    }

    /// The part (and where on it) the ray `origin + t·dir` meets first.
    pub fn pick(&self, origin: Vec3, dir: Vec3) -> Option<(u32, RayHit)> {
        self.parts
            .iter()
            .filter_map(|p| raycast(&p.mesh, &p.matrix(), origin.to_array(), dir.to_array()).map(|h| (p.id, h)))
            .min_by(|a, b| a.1.t.total_cmp(&b.1.t))
    }

    /// Whether a part stands fully inside the build volume.
    pub fn fits(&self, id: u32) -> bool {
        self.part(id).is_some_and(|p| inside(&p.bounds(), self.bed))
    }

    /// The plate as a model (each part's placement kept as its transform), for saving as 3MF.
    pub fn to_model(&self, title: &str) -> Model {
        let mut model = Model::default();
        model.metadata.insert("Title".into(), title.to_string());
        model.metadata.insert("Application".into(), "Printfarm editor".into());
        for p in &self.parts {
            let mut o = ModelObject::new(p.name.clone(), (*p.mesh).clone());
            o.transform = p.matrix();
            model.objects.push(o);
        }
        model
    }

    /// The validation report in plain words, and which parts to show in red.
    pub fn report(&self) -> Report {
        let mut checks = Vec::new();
        let mut problems = Vec::new();
        let all = self.parts.iter().map(Part::bounds).reduce(|a, b| a.union(&b));
        match all {
            None => checks.push(Check::bad(text::EMPTY_PLATE.into())),
            Some(b) => checks.push(Check::ok(text::size_line(b.size(), self.parts.len()))),
        }
        for p in &self.parts {
            let b = p.bounds();
            if !p.watertight {
                checks.push(Check::bad(text::has_holes(&p.name)));
                problems.push(p.id);
            }
            let s = b.size();
            if s[2] > self.bed[2] {
                checks.push(Check::bad(text::too_tall(&p.name, s[2], self.bed[2])));
                problems.push(p.id);
            } else if !inside(&b, self.bed) {
                checks.push(Check::bad(text::off_bed(&p.name)));
                problems.push(p.id);
            }
            if b.min[2] > FLOAT_MM {
                checks.push(Check::bad(text::floating(&p.name)));
            }
        }
        if !self.parts.is_empty() && checks.iter().all(|c| c.ok) {
            checks.push(Check::ok(text::all_good(self.bed)));
        }
        problems.dedup();
        Report { checks, problems }
    }
}

fn inside(b: &Aabb, bed: [f32; 3]) -> bool {
    const SLACK: f32 = 1e-3;
    (0..3).all(|i| b.min[i] >= -SLACK && b.max[i] <= bed[i] + SLACK)
}

/// Rounds away float noise so fields read 90, not 89.99999.
fn clean_degrees(d: f32) -> f32 {
    let r = (d * 100.0).round() / 100.0;
    if r == -0.0 {
        0.0
    } else {
        r
    }
}

/// One line of the validation report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub ok: bool,
    pub text: String,
}

impl Check {
    fn ok(text: String) -> Self {
        Self { ok: true, text }
    }
    fn bad(text: String) -> Self {
        Self { ok: false, text }
    }
}

/// The validation report: sentences, and the parts to highlight as problems.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    pub problems: Vec<u32>,
}

/// What undo and redo restore: the parts and the selection.
#[derive(Debug, Clone)]
struct Snapshot {
    parts: Vec<Part>,
    selected: Option<u32>,
}

/// Undo/redo by whole snapshots of the plate. Parts share their meshes, so a snapshot is cheap.
#[derive(Debug, Default)]
pub struct History {
    undo: Vec<Snapshot>,
    redo: Vec<Snapshot>,
}

impl History {
    /// Remembers the plate as it is now, before a change; a new change forgets what was undone.
    pub fn record(&mut self, scene: &Scene) {
        self.undo.push(Snapshot { parts: scene.parts.clone(), selected: scene.selected });
        if self.undo.len() > HISTORY_LIMIT {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Forgets the last recorded state (a change that turned out to change nothing).
    pub fn discard_last(&mut self) {
        self.undo.pop();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self, scene: &mut Scene) -> bool {
        let Some(s) = self.undo.pop() else { return false };
        self.redo.push(Snapshot {
            parts: std::mem::replace(&mut scene.parts, s.parts),
            selected: std::mem::replace(&mut scene.selected, s.selected),
        });
        true
    }

    pub fn redo(&mut self, scene: &mut Scene) -> bool {
        let Some(s) = self.redo.pop() else { return false };
        self.undo.push(Snapshot {
            parts: std::mem::replace(&mut scene.parts, s.parts),
            selected: std::mem::replace(&mut scene.selected, s.selected),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh::primitives::box_mesh;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-3
    }

    fn scene_with_box(size: [f32; 3]) -> (Scene, u32) {
        let mut s = Scene::new(DEFAULT_BED);
        let ids = s.add_model(
            Model::single("box", box_mesh([-5.0, -5.0, -5.0], [size[0] - 5.0, size[1] - 5.0, size[2] - 5.0])),
            "box",
        );
        (s, ids[0])
    }

    #[test]
    fn a_loaded_part_is_centred_on_the_bed() {
        let (s, id) = scene_with_box([40.0, 20.0, 10.0]);
        assert_eq!(s.position(id).unwrap(), [110.0, 110.0, 0.0]);
        assert_eq!(s.size(id).unwrap(), [40.0, 20.0, 10.0]);
        assert!(s.part(id).unwrap().watertight);
        assert!(s.fits(id));
    }

    #[test]
    fn size_fields_scale_uniformly_or_along_one_axis() {
        let (mut s, id) = scene_with_box([40.0, 20.0, 10.0]);
        assert!(s.set_size(id, 0, 80.0, true));
        let size = s.size(id).unwrap();
        assert!(close(size[0], 80.0) && close(size[1], 40.0) && close(size[2], 20.0), "{size:?}");
        assert_eq!(s.position(id).unwrap(), [110.0, 110.0, 0.0], "stays put and on the bed");
        assert!(s.set_size(id, 1, 10.0, false));
        let size = s.size(id).unwrap();
        assert!(close(size[0], 80.0) && close(size[1], 10.0) && close(size[2], 20.0), "{size:?}");
        assert!(!s.set_size(id, 0, 0.0, true), "zero is refused");
        assert!(!s.set_size(id, 0, f32::NAN, true));
    }

    #[test]
    fn turning_keeps_the_part_in_place_and_fields_read_back() {
        let (mut s, id) = scene_with_box([40.0, 20.0, 10.0]);
        assert!(s.rotate_z(id, 90.0));
        let size = s.size(id).unwrap();
        assert!(close(size[0], 20.0) && close(size[1], 40.0), "{size:?}");
        let p = s.position(id).unwrap();
        assert!(close(p[0], 110.0) && close(p[1], 110.0) && close(p[2], 0.0), "{p:?}");
        assert_eq!(s.rotation_degrees(id).unwrap(), [0.0, 0.0, 90.0]);
        assert!(s.set_rotation_degrees(id, [90.0, 0.0, 0.0]));
        let size = s.size(id).unwrap();
        assert!(close(size[1], 10.0) && close(size[2], 20.0), "{size:?}");
    }

    #[test]
    fn lay_flat_puts_the_clicked_face_on_the_bed() {
        let (mut s, id) = scene_with_box([40.0, 20.0, 10.0]);
        // Click the +x side face from outside.
        let (hit_id, hit) = s.pick(Vec3::new(500.0, 110.0, 5.0), Vec3::new(-1.0, 0.0, 0.0)).unwrap();
        assert_eq!(hit_id, id);
        assert!(close(hit.point[0], 130.0), "{hit:?}");
        s.lay_flat(id, hit.face).unwrap();
        let size = s.size(id).unwrap();
        assert!(close(size[2], 40.0), "now standing on its end: {size:?}");
        assert!(close(s.position(id).unwrap()[2], 0.0));
    }

    #[test]
    fn scale_to_fit_and_out_of_bed_report() {
        let (mut s, id) = scene_with_box([400.0, 20.0, 10.0]);
        let r = s.report();
        assert_eq!(r.problems, vec![id]);
        assert!(r.checks.iter().any(|c| !c.ok && c.text.contains("sticks out")), "{r:?}");
        let f = s.scale_to_fit(id).unwrap();
        assert!(close(f, 210.0 / 400.0), "{f}");
        assert!(s.fits(id));
        let r = s.report();
        assert!(r.problems.is_empty() && r.checks.iter().all(|c| c.ok), "{r:?}");
    }

    #[test]
    fn cut_makes_two_closed_parts_on_the_bed() {
        let (mut s, id) = scene_with_box([20.0, 20.0, 40.0]);
        let ids = s.cut(id, 10.0, Keep::Both).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(s.parts.len(), 2);
        let heights: Vec<f32> = ids.iter().map(|&i| s.size(i).unwrap()[2]).collect();
        assert!(close(heights[0], 10.0) && close(heights[1], 30.0), "{heights:?}");
        for &i in &ids {
            assert!(s.part(i).unwrap().watertight);
            assert!(close(s.position(i).unwrap()[2], 0.0));
            assert!(s.fits(i));
        }
        let (mut s, id) = scene_with_box([20.0, 20.0, 40.0]);
        assert_eq!(s.cut(id, 10.0, Keep::Above).unwrap().len(), 1);
        assert!(s.cut(s.parts[0].id, 500.0, Keep::Both).is_err());
    }

    #[test]
    fn copies_are_arranged_without_overlap() {
        let (mut s, id) = scene_with_box([50.0, 50.0, 10.0]);
        let copy = s.add_copy(id).unwrap();
        let (a, b) = (s.part(id).unwrap().bounds(), s.part(copy).unwrap().bounds());
        let overlap = (0..2).all(|k| a.min[k] < b.max[k] && b.min[k] < a.max[k]);
        assert!(!overlap, "{a:?} {b:?}");
        assert!(s.fits(id) && s.fits(copy));
        assert_eq!(s.selected, Some(copy));
        assert_eq!(s.to_model("t").objects.len(), 2);
    }

    #[test]
    fn undo_and_redo_restore_placements() {
        let (mut s, id) = scene_with_box([40.0, 20.0, 10.0]);
        let mut h = History::default();
        assert!(!h.can_undo());
        h.record(&s);
        s.translate(id, Vec3::new(10.0, 0.0, 0.0));
        h.record(&s);
        s.set_size(id, 0, 20.0, true);
        assert!(h.undo(&mut s));
        assert_eq!(s.position(id).unwrap()[0], 120.0);
        assert!(h.undo(&mut s));
        assert_eq!(s.position(id).unwrap()[0], 110.0);
        assert!(!h.undo(&mut s));
        assert!(h.redo(&mut s));
        assert_eq!(s.position(id).unwrap()[0], 120.0);
        h.record(&s);
        assert!(!h.can_redo(), "a new change forgets the undone ones");
    }

    #[test]
    fn a_saved_plate_reads_back_with_the_same_placement() {
        let (mut s, id) = scene_with_box([40.0, 20.0, 10.0]);
        s.rotate_z(id, 30.0);
        s.set_position(id, 0, 60.0);
        let bytes = mesh::io::write(&s.to_model("t"), mesh::io::Format::ThreeMf).unwrap();
        let back = mesh::io::read(&bytes, None, &mesh::io::Limits::default()).unwrap();
        let mut s2 = Scene::new(DEFAULT_BED);
        let ids = s2.add_model(back, "t");
        let (a, b) = (s.part(id).unwrap().bounds(), s2.part(ids[0]).unwrap().bounds());
        for k in 0..3 {
            assert!(close(a.min[k], b.min[k]) && close(a.max[k], b.max[k]), "{a:?} {b:?}");
        }
    }
}
