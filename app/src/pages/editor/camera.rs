//! The orbit camera (z up, the bed in the xy plane), picking rays, and the on-canvas gizmo's
//! geometry, picking and dragging. Pure maths, tested natively; the renderer draws what this says.

use glam::{Mat4, Vec3, Vec4};

/// Radians turned per pixel dragged.
const ORBIT_PER_PX: f32 = 0.008;
const MIN_PITCH: f32 = -0.3;
const MAX_PITCH: f32 = 1.55;
const MIN_DISTANCE: f32 = 20.0;
const MAX_DISTANCE: f32 = 4000.0;

/// A camera circling `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbitCamera {
    pub target: Vec3,
    pub distance: f32,
    /// Angle about z, radians.
    pub yaw: f32,
    /// Elevation above the bed plane, radians.
    pub pitch: f32,
    /// Vertical field of view, radians.
    pub fov_y: f32,
}

impl OrbitCamera {
    /// A three-quarter view of the whole bed on a canvas of `aspect` (width / height): far enough
    /// that the bed's diagonal fits the narrower of the two fields of view.
    pub fn framing(bed: [f32; 3], aspect: f32) -> Self {
        let fov_y = 45f32.to_radians();
        let half = (fov_y * 0.5).tan();
        let narrower = half * aspect.clamp(0.2, 5.0).min(1.0);
        let diagonal = (bed[0] * bed[0] + bed[1] * bed[1]).sqrt();
        Self {
            target: Vec3::new(bed[0] * 0.5, bed[1] * 0.5, 0.0),
            distance: (diagonal * 0.5 / narrower).clamp(MIN_DISTANCE, MAX_DISTANCE),
            yaw: -std::f32::consts::FRAC_PI_2,
            pitch: 0.85,
            fov_y,
        }
    }

    pub fn eye(&self) -> Vec3 {
        let (sp, cp) = self.pitch.sin_cos();
        let (sy, cy) = self.yaw.sin_cos();
        self.target + self.distance * Vec3::new(cp * cy, cp * sy, sp)
    }

    pub fn view(&self) -> Mat4 {
        Mat4::look_at_rh(self.eye(), self.target, Vec3::Z)
    }

    pub fn projection(&self, aspect: f32) -> Mat4 {
        let near = (self.distance * 0.01).max(0.5);
        let far = self.distance * 4.0 + 2000.0;
        Mat4::perspective_rh_gl(self.fov_y, aspect.max(0.01), near, far)
    }

    pub fn view_projection(&self, width: f32, height: f32) -> Mat4 {
        self.projection(width / height.max(1.0)) * self.view()
    }

    /// Turns the view by a drag of (dx, dy) pixels.
    pub fn orbit(&mut self, dx: f32, dy: f32) {
        self.yaw -= dx * ORBIT_PER_PX;
        self.pitch = (self.pitch + dy * ORBIT_PER_PX).clamp(MIN_PITCH, MAX_PITCH);
    }

    /// Millimetres one pixel covers at the target.
    pub fn mm_per_pixel(&self, height: f32) -> f32 {
        2.0 * self.distance * (self.fov_y * 0.5).tan() / height.max(1.0)
    }

    /// Slides the view so what was under the pointer follows it.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let k = self.mm_per_pixel(height);
        let forward = (self.target - self.eye()).normalize_or_zero();
        let right = forward.cross(Vec3::Z).normalize_or(Vec3::X);
        let up = right.cross(forward);
        self.target += (-dx * right + dy * up) * k;
    }

    /// Moves closer (factor < 1) or further away (factor > 1).
    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            self.distance = (self.distance * factor).clamp(MIN_DISTANCE, MAX_DISTANCE);
        }
    }

    /// The ray through a pixel (origin on the near plane, unit direction).
    pub fn ray(&self, x: f32, y: f32, width: f32, height: f32) -> (Vec3, Vec3) {
        let inv = self.view_projection(width, height).inverse();
        let nx = 2.0 * x / width.max(1.0) - 1.0;
        let ny = 1.0 - 2.0 * y / height.max(1.0);
        let near = inv * Vec4::new(nx, ny, -1.0, 1.0);
        let far = inv * Vec4::new(nx, ny, 1.0, 1.0);
        let (near, far) = (near.truncate() / near.w, far.truncate() / far.w);
        (near, (far - near).normalize_or(Vec3::NEG_Z))
    }

    /// Where a point shows on the canvas (pixels from the top left), if it is in front of the camera.
    pub fn project(&self, p: Vec3, width: f32, height: f32) -> Option<[f32; 2]> {
        let c = self.view_projection(width, height) * p.extend(1.0);
        if c.w <= 0.0 {
            return None;
        }
        Some([(c.x / c.w + 1.0) * 0.5 * width, (1.0 - c.y / c.w) * 0.5 * height])
    }
}

/// A gizmo handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handle {
    MoveX,
    MoveY,
    RotateZ,
    Scale,
}

/// The gizmo around the selected part: move arrows along x and y, a ring to turn about z and a
/// square handle to scale, all at the part's footprint centre on the bed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gizmo {
    pub origin: Vec3,
    /// Arrow length, mm.
    pub size: f32,
}

/// Ring radius as a fraction of the arrow length.
pub const RING: f32 = 0.75;
/// Distance of the scale handle from the origin, as a fraction of the arrow length: outside the
/// ring, on the diagonal away from both arrows, so no view puts it in front of another handle.
pub const SCALE_AT: f32 = 1.1;
/// The direction of the scale handle from the origin (in the bed plane, between −x and −y).
pub const SCALE_DIR: Vec3 = Vec3::new(-std::f32::consts::FRAC_1_SQRT_2, -std::f32::consts::FRAC_1_SQRT_2, 0.0);
/// How near (fraction of the arrow length) a ray must pass to grab a handle; generous for fingers.
const GRAB: f32 = 0.12;

impl Gizmo {
    /// A gizmo for a part with footprint centre `origin` (on its lowest point) and size `part`,
    /// at least `min_px` pixels long on screen.
    pub fn around(origin: Vec3, part: [f32; 3], camera: &OrbitCamera, height: f32, min_px: f32) -> Self {
        let reach = 0.5 * (part[0] * part[0] + part[1] * part[1]).sqrt() + 8.0;
        Self { origin, size: reach.max(min_px * camera.mm_per_pixel(height)) }
    }

    /// A point on each handle (for tests and hints): the middle of an arrow, a point on the ring,
    /// the scale square.
    pub fn handle_point(&self, h: Handle) -> Vec3 {
        match h {
            Handle::MoveX => self.origin + Vec3::X * self.size * 0.9,
            Handle::MoveY => self.origin + Vec3::Y * self.size * 0.9,
            Handle::RotateZ => self.origin + Vec3::new(1.0, -1.0, 0.0).normalize() * self.size * RING,
            Handle::Scale => self.origin + SCALE_DIR * self.size * SCALE_AT,
        }
    }

    /// The handle a ray grabs, if any (the scale square first, then arrows, then the ring).
    pub fn pick(&self, origin: Vec3, dir: Vec3) -> Option<Handle> {
        let grab = GRAB * self.size;
        if point_ray_distance(self.handle_point(Handle::Scale), origin, dir) < grab * 1.3 {
            return Some(Handle::Scale);
        }
        let arrows = [(Handle::MoveX, Vec3::X), (Handle::MoveY, Vec3::Y)]
            .into_iter()
            .map(|(h, axis)| {
                (
                    h,
                    segment_ray_distance(
                        self.origin + axis * self.size * 0.15,
                        self.origin + axis * self.size * 1.1,
                        origin,
                        dir,
                    ),
                )
            })
            .filter(|(_, d)| *d < grab)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((h, _)) = arrows {
            return Some(h);
        }
        let p = ray_plane_z(origin, dir, self.origin.z)?;
        let r = (p - self.origin).truncate().length();
        ((r - RING * self.size).abs() < grab).then_some(Handle::RotateZ)
    }

    /// What dragging `handle` from the ray `from` to the ray `to` does: a move (mm), a turn
    /// (degrees about z) or a scale factor.
    pub fn drag(&self, handle: Handle, from: (Vec3, Vec3), to: (Vec3, Vec3)) -> Option<Drag> {
        match handle {
            Handle::MoveX | Handle::MoveY => {
                let axis = if handle == Handle::MoveX { Vec3::X } else { Vec3::Y };
                let a = closest_on_line(self.origin, axis, from.0, from.1)?;
                let b = closest_on_line(self.origin, axis, to.0, to.1)?;
                Some(Drag::Move(axis * (b - a)))
            }
            Handle::RotateZ => {
                let a = ray_plane_z(from.0, from.1, self.origin.z)? - self.origin;
                let b = ray_plane_z(to.0, to.1, self.origin.z)? - self.origin;
                let angle = a.truncate().angle_to(b.truncate());
                angle.is_finite().then(|| Drag::Turn(angle.to_degrees()))
            }
            Handle::Scale => {
                let a = closest_on_line(self.origin, SCALE_DIR, from.0, from.1)?;
                let b = closest_on_line(self.origin, SCALE_DIR, to.0, to.1)?;
                if a <= 1e-3 {
                    return None;
                }
                Some(Drag::Scale((b / a).clamp(0.05, 20.0)))
            }
        }
    }
}

/// The effect of a gizmo drag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Drag {
    Move(Vec3),
    Turn(f32),
    Scale(f32),
}

/// Where a ray meets the horizontal plane at height `z` (in front of the origin).
pub fn ray_plane_z(origin: Vec3, dir: Vec3, z: f32) -> Option<Vec3> {
    if dir.z.abs() < 1e-6 {
        return None;
    }
    let t = (z - origin.z) / dir.z;
    (t > 0.0).then(|| origin + dir * t)
}

fn point_ray_distance(p: Vec3, origin: Vec3, dir: Vec3) -> f32 {
    let d = dir.normalize_or_zero();
    let v = p - origin;
    let t = v.dot(d).max(0.0);
    (v - d * t).length()
}

/// Parameter along the line `p + s·axis` (unit axis) of the point closest to the ray.
fn closest_on_line(p: Vec3, axis: Vec3, origin: Vec3, dir: Vec3) -> Option<f32> {
    let d = dir.normalize_or_zero();
    let w = p - origin;
    let (a, b, c) = (axis.dot(axis), axis.dot(d), d.dot(d));
    let (dd, e) = (axis.dot(w), d.dot(w));
    let denom = a * c - b * b;
    if denom.abs() < 1e-6 {
        return None;
    }
    Some((b * e - c * dd) / denom)
}

fn segment_ray_distance(a: Vec3, b: Vec3, origin: Vec3, dir: Vec3) -> f32 {
    let len = (b - a).length();
    let axis = (b - a) / len.max(1e-6);
    let s = closest_on_line(a, axis, origin, dir).unwrap_or(0.0).clamp(0.0, len);
    point_ray_distance(a + axis * s, origin, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: f32 = 800.0;
    const H: f32 = 600.0;

    #[test]
    fn the_bed_centre_is_in_the_middle_and_rays_go_through_it() {
        let cam = OrbitCamera::framing([220.0, 220.0, 250.0], W / H);
        let c = Vec3::new(110.0, 110.0, 0.0);
        // Every bed corner is on the canvas.
        for corner in [[0.0, 0.0], [220.0, 0.0], [0.0, 220.0], [220.0, 220.0]] {
            let [x, y] = cam.project(Vec3::new(corner[0], corner[1], 0.0), W, H).unwrap();
            assert!((0.0..=W).contains(&x) && (0.0..=H).contains(&y), "{corner:?} at {x} {y}");
        }
        let [x, y] = cam.project(c, W, H).unwrap();
        assert!((x - 400.0).abs() < 0.5 && (y - 300.0).abs() < 0.5, "{x} {y}");
        let (o, d) = cam.ray(400.0, 300.0, W, H);
        let hit = ray_plane_z(o, d, 0.0).unwrap();
        assert!((hit - c).length() < 0.05, "{hit}");
        // A point projected and cast back lands on itself.
        let p = Vec3::new(30.0, 180.0, 0.0);
        let [px, py] = cam.project(p, W, H).unwrap();
        let (o, d) = cam.ray(px, py, W, H);
        assert!((ray_plane_z(o, d, 0.0).unwrap() - p).length() < 0.05);
    }

    #[test]
    fn orbit_pan_and_zoom_stay_in_bounds() {
        let mut cam = OrbitCamera::framing([220.0, 220.0, 250.0], W / H);
        cam.orbit(0.0, 10_000.0);
        assert_eq!(cam.pitch, MAX_PITCH);
        cam.zoom(1e-9);
        assert_eq!(cam.distance, MIN_DISTANCE);
        cam.zoom(f32::NAN);
        assert_eq!(cam.distance, MIN_DISTANCE);
        let mut cam = OrbitCamera::framing([220.0, 220.0, 250.0], W / H);
        let before = cam.project(Vec3::new(110.0, 110.0, 0.0), W, H).unwrap();
        cam.pan(50.0, 0.0, H);
        let after = cam.project(Vec3::new(110.0, 110.0, 0.0), W, H).unwrap();
        assert!((after[0] - before[0] - 50.0).abs() < 1.0, "{before:?} → {after:?}");
    }

    #[test]
    fn gizmo_handles_are_picked_and_dragged() {
        let cam = OrbitCamera::framing([220.0, 220.0, 250.0], W / H);
        let g = Gizmo { origin: Vec3::new(110.0, 110.0, 0.0), size: 40.0 };
        let ray_at = |p: Vec3| {
            let [x, y] = cam.project(p, W, H).unwrap();
            cam.ray(x, y, W, H)
        };
        for h in [Handle::MoveX, Handle::MoveY, Handle::RotateZ, Handle::Scale] {
            let (o, d) = ray_at(g.handle_point(h));
            assert_eq!(g.pick(o, d), Some(h), "{h:?}");
        }
        let (o, d) = ray_at(Vec3::new(10.0, 10.0, 0.0));
        assert_eq!(g.pick(o, d), None);
        let from = ray_at(g.handle_point(Handle::MoveX));
        let to = ray_at(g.handle_point(Handle::MoveX) + Vec3::new(25.0, 0.0, 0.0));
        match g.drag(Handle::MoveX, from, to) {
            Some(Drag::Move(m)) => assert!((m.x - 25.0).abs() < 0.1 && m.y == 0.0, "{m}"),
            other => panic!("{other:?}"),
        }
        let from = ray_at(g.origin + Vec3::new(30.0, 0.0, 0.0));
        let to = ray_at(g.origin + Vec3::new(0.0, 30.0, 0.0));
        match g.drag(Handle::RotateZ, from, to) {
            Some(Drag::Turn(a)) => assert!((a - 90.0).abs() < 0.5, "{a}"),
            other => panic!("{other:?}"),
        }
        let from = ray_at(g.handle_point(Handle::Scale));
        let to = ray_at(g.origin + SCALE_DIR * g.size * SCALE_AT * 2.0);
        match g.drag(Handle::Scale, from, to) {
            Some(Drag::Scale(f)) => assert!((f - 2.0).abs() < 0.05, "{f}"),
            other => panic!("{other:?}"),
        }
    }
}
