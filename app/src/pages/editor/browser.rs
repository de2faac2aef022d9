//! The editor in the browser: loads the model file, keeps the scene and its history, turns pointer,
//! touch, wheel and key input into camera moves and edits, and asks the renderer for a frame only
//! when something changed. Also the `window.__printfarmEditor` hook the browser tests and the
//! frame-time benchmark use.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use glam::Vec3;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlCanvasElement, KeyboardEvent, PointerEvent, WheelEvent};

use super::camera::{Drag, Gizmo, Handle, OrbitCamera};
use super::scene::{History, Keep, Scene};
use super::{text, Command, Selection, Tool, Ui};
use crate::viewport::{Frame, PartDraw, Renderer, PART, PROBLEM, SELECTED, SELECTED_PROBLEM};

/// A press that moves less than this (px) is a tap.
const TAP_PX: f32 = 6.0;
/// The gizmo is at least this long on screen (px), so fingers can grab it.
const GIZMO_PX: f32 = 90.0;

pub type Shared = Rc<RefCell<Editor>>;

enum Gesture {
    None,
    Orbit { moved: f32 },
    Pan,
    Gizmo { handle: Handle, gizmo: Gizmo, from: (Vec3, Vec3), applied: Drag },
    Pinch { distance: f32, middle: (f32, f32) },
}

/// Everything the open editor holds.
pub struct Editor {
    scene: Scene,
    history: History,
    camera: OrbitCamera,
    renderer: Option<Renderer>,
    ui: RwSignal<Ui>,
    tool: Tool,
    markers: Vec<Vec3>,
    cut_z: Option<f32>,
    pointers: Vec<(i32, f32, f32)>,
    gesture: Gesture,
    title: String,
    dirty: bool,
    notice: Option<String>,
    error: Option<String>,
    /// The model is loaded (the next frame shows it).
    loaded: bool,
    /// A frame with the model has been drawn: what tests wait for before reading pixels.
    ready: bool,
    frame_requested: bool,
    frames: u64,
    me: Weak<RefCell<Editor>>,
    raf: Option<Closure<dyn FnMut(f64)>>,
}

/// Opens the editor on `canvas` and starts loading model version `version`.
pub fn start(canvas: HtmlCanvasElement, version: i64, ui: RwSignal<Ui>) -> Shared {
    let (renderer, error) = match Renderer::new(canvas) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    let editor = Rc::new(RefCell::new(Editor {
        scene: Scene::default(),
        history: History::default(),
        camera: OrbitCamera::framing(super::scene::DEFAULT_BED, 1.0),
        renderer,
        ui,
        tool: Tool::Select,
        markers: Vec::new(),
        cut_z: None,
        pointers: Vec::new(),
        gesture: Gesture::None,
        title: String::new(),
        dirty: false,
        notice: Some(text::LOADING.into()),
        error,
        loaded: false,
        ready: false,
        frame_requested: false,
        frames: 0,
        me: Weak::new(),
        raf: None,
    }));
    {
        let mut e = editor.borrow_mut();
        e.me = Rc::downgrade(&editor);
        let weak = e.me.clone();
        e.raf = Some(Closure::wrap(Box::new(move |_t: f64| {
            if let Some(rc) = weak.upgrade() {
                if let Ok(mut e) = rc.try_borrow_mut() {
                    e.frame_requested = false;
                    e.draw();
                }
            }
        }) as Box<dyn FnMut(f64)>));
        e.refresh();
    }
    install_hook(&editor);
    let weak = Rc::downgrade(&editor);
    leptos::task::spawn_local(async move {
        // The farm's largest bed first, so the model lands in the middle of the right plate.
        let bed = crate::api::editor::print_options().await.ok().map(|o| o.any_bed);
        let loaded = load(version).await;
        let Some(rc) = weak.upgrade() else { return };
        let mut e = rc.borrow_mut();
        if let Some(bed) = bed.filter(|b| b.iter().all(|v| v.is_finite() && *v > 0.0)) {
            e.scene.bed = bed;
        }
        match loaded {
            Ok((title, model)) => {
                e.frame_bed();
                e.title = title.clone();
                e.scene.add_model(model, &title);
                e.scene.selected = None;
                e.notice = None;
                e.loaded = true;
            }
            Err(why) => {
                e.notice = None;
                e.error = Some(text::load_failed(&why));
            }
        }
        e.refresh();
    });
    editor
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|_| "the server could not be reached".to_string())?
        .dyn_into()
        .map_err(|_| "the server sent something odd".to_string())?;
    if response.status() == 404 {
        return Err("there is no such model".into());
    }
    if !response.ok() {
        return Err(format!("the server answered {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|_| "the download failed".to_string())?)
        .await
        .map_err(|_| "the download failed".to_string())?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Downloads and parses a model version (the same readers and limits as the server).
async fn load(version: i64) -> Result<(String, mesh::Model), String> {
    let info = crate::api::editor::editor_model(version).await.map_err(|e| match e {
        ServerFnError::ServerError(m) => m,
        other => other.to_string(),
    })?;
    let bytes = fetch_bytes(&format!("/api/v1/models/versions/{version}/file")).await?;
    let model = mesh::io::read(&bytes, None, &mesh::io::Limits::default()).map_err(|e| e.to_string())?;
    Ok((info.name, model))
}

/// Runs a command from the side panel or the keyboard.
pub fn apply(editor: &Shared, command: Command) {
    if let Command::AddVersion(version) = command {
        let weak = Rc::downgrade(editor);
        leptos::task::spawn_local(async move {
            let loaded = load(version).await;
            let Some(rc) = weak.upgrade() else { return };
            let mut e = rc.borrow_mut();
            match loaded {
                Ok((title, model)) => {
                    let before = e.scene.clone();
                    e.history.record(&before);
                    let ids = e.scene.add_model(model, &title);
                    let left = e.scene.arrange();
                    e.scene.selected = ids.first().copied();
                    e.dirty = true;
                    e.notice = (!left.is_empty()).then(|| text::did_not_fit(&left));
                }
                Err(why) => e.error = Some(text::load_failed(&why)),
            }
            e.refresh();
        });
        return;
    }
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.command(command);
    }
}

/// The plate as a 3MF file.
pub fn export(editor: &Shared) -> Result<Vec<u8>, String> {
    let e = editor.try_borrow().map_err(|_| "the editor is busy".to_string())?;
    mesh::io::write(&e.scene.to_model(&e.title), mesh::io::Format::ThreeMf).map_err(|e| e.to_string())
}

/// Points the address bar at another version without reloading (the editor already shows it).
pub fn show_version_in_address_bar(version: i64) {
    let Some(window) = web_sys::window() else { return };
    let Ok(history) = js_sys::Reflect::get(&window, &"history".into()) else { return };
    let Ok(replace) = js_sys::Reflect::get(&history, &"replaceState".into()) else { return };
    if let Ok(f) = replace.dyn_into::<js_sys::Function>() {
        let _ = f.call3(
            &history,
            &JsValue::NULL,
            &JsValue::from_str(""),
            &JsValue::from_str(&format!("/editor/{version}")),
        );
    }
}

/// After a save: nothing is unsaved any more.
pub fn mark_saved(editor: &Shared) {
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.dirty = false;
        e.notice = Some(text::SAVED.into());
        e.refresh();
    }
}

pub fn pointer_down(editor: &Shared, ev: &PointerEvent) {
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.pointer_down(ev);
    }
}

pub fn pointer_move(editor: &Shared, ev: &PointerEvent) {
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.pointer_move(ev);
    }
}

pub fn pointer_up(editor: &Shared, ev: &PointerEvent) {
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.pointer_up(ev);
    }
}

pub fn wheel(editor: &Shared, ev: &WheelEvent) {
    ev.prevent_default();
    if let Ok(mut e) = editor.try_borrow_mut() {
        e.camera.zoom((ev.delta_y() as f32 * 0.0015).exp());
        e.request_frame();
    }
}

/// Keys on the canvas: arrows move the selected part (Shift: 10 mm), R turns it, +/- zoom, Delete
/// removes it, Escape drops the selection or tool.
pub fn key(editor: &Shared, ev: &KeyboardEvent) {
    let Ok(mut e) = editor.try_borrow_mut() else { return };
    let step = if ev.shift_key() { 10.0 } else { 1.0 };
    let command = match ev.key().as_str() {
        "ArrowLeft" => Some(Command::Nudge(Vec3::new(-step, 0.0, 0.0))),
        "ArrowRight" => Some(Command::Nudge(Vec3::new(step, 0.0, 0.0))),
        "ArrowUp" => Some(Command::Nudge(Vec3::new(0.0, step, 0.0))),
        "ArrowDown" => Some(Command::Nudge(Vec3::new(0.0, -step, 0.0))),
        "r" | "R" => Some(Command::Turn(if ev.shift_key() { -15.0 } else { 15.0 })),
        "Delete" | "Backspace" => Some(Command::Remove),
        "Escape" => Some(Command::Escape),
        "+" | "=" => {
            e.camera.zoom(0.85);
            e.request_frame();
            None
        }
        "-" => {
            e.camera.zoom(1.0 / 0.85);
            e.request_frame();
            None
        }
        "Tab" => return,
        _ => return,
    };
    ev.prevent_default();
    if let Some(c) = command {
        e.command(c);
    }
}

impl Editor {
    fn size(&self) -> (f32, f32) {
        self.renderer.as_ref().map_or((1.0, 1.0), Renderer::css_size)
    }

    fn canvas_point(&self, ev: &PointerEvent) -> (f32, f32) {
        match &self.renderer {
            Some(r) => {
                let rect = r.canvas().get_bounding_client_rect();
                (ev.client_x() as f32 - rect.left() as f32, ev.client_y() as f32 - rect.top() as f32)
            }
            None => (ev.offset_x() as f32, ev.offset_y() as f32),
        }
    }

    /// Points the camera at the whole bed, as the canvas is shaped now.
    fn frame_bed(&mut self) {
        let (w, h) = self.size();
        self.camera = OrbitCamera::framing(self.scene.bed, w / h);
    }

    fn ray(&self, x: f32, y: f32) -> (Vec3, Vec3) {
        let (w, h) = self.size();
        self.camera.ray(x, y, w, h)
    }

    fn gizmo(&self) -> Option<Gizmo> {
        if self.tool != Tool::Select {
            return None;
        }
        let id = self.scene.selected?;
        let p = self.scene.position(id)?;
        let size = self.scene.size(id)?;
        let (_, h) = self.size();
        Some(Gizmo::around(Vec3::from(p), size, &self.camera, h, GIZMO_PX))
    }

    fn request_frame(&mut self) {
        if self.frame_requested {
            return;
        }
        if let (Some(window), Some(cb)) = (web_sys::window(), self.raf.as_ref()) {
            if window.request_animation_frame(cb.as_ref().unchecked_ref()).is_ok() {
                self.frame_requested = true;
            }
        }
    }

    fn draw(&mut self) {
        let report_problems = self.scene.report().problems;
        let gizmo = self.gizmo().map(|g| {
            let active = match &self.gesture {
                Gesture::Gizmo { handle, .. } => Some(*handle),
                _ => None,
            };
            (g, active)
        });
        let cut = self.cut_z.zip(self.scene.selected_part().map(|p| p.bounds()));
        let parts: Vec<PartDraw> = self
            .scene
            .parts
            .iter()
            .map(|p| {
                let selected = self.scene.selected == Some(p.id);
                let problem = report_problems.contains(&p.id);
                let colour = match (selected, problem) {
                    (true, true) => SELECTED_PROBLEM,
                    (true, false) => SELECTED,
                    (false, true) => PROBLEM,
                    (false, false) => PART,
                };
                PartDraw { id: p.id, mesh: &p.mesh, matrix: p.matrix(), colour }
            })
            .collect();
        let frame = Frame { camera: &self.camera, bed: self.scene.bed, parts, gizmo, markers: &self.markers, cut };
        let result = self.renderer.as_mut().map(|r| r.draw(&frame));
        if let Some(Err(e)) = result {
            self.error = Some(e);
            self.refresh_ui();
        }
        self.frames += 1;
        if let Some(r) = &self.renderer {
            let _ = r.canvas().set_attribute("data-frames", &self.frames.to_string());
        }
        if self.loaded && !self.ready && self.error.is_none() {
            self.ready = true;
            self.refresh_ui();
        }
    }

    /// Publishes the panel's state and asks for a frame.
    fn refresh(&mut self) {
        self.refresh_ui();
        self.request_frame();
    }

    fn refresh_ui(&self) {
        let selected = self.scene.selected_part().map(|p| Selection {
            id: p.id,
            name: p.name.clone(),
            position: self.scene.position(p.id).unwrap_or_default(),
            rotation: self.scene.rotation_degrees(p.id).unwrap_or_default(),
            size: self.scene.size(p.id).unwrap_or_default(),
        });
        let notice = match self.tool {
            Tool::LayFlat => Some(text::PICK_FACE.to_string()),
            Tool::Measure if self.markers.len() == 1 => Some(text::PICK_SECOND_POINT.to_string()),
            Tool::Measure if self.markers.len() == 2 => Some(text::distance(self.markers[0].distance(self.markers[1]))),
            Tool::Measure => Some(text::PICK_FIRST_POINT.to_string()),
            _ => self.notice.clone(),
        };
        let ui = Ui {
            ready: self.ready,
            error: self.error.clone(),
            notice,
            parts: self.scene.parts.iter().map(|p| (p.id, p.name.clone(), p.mesh.triangle_count())).collect(),
            selected,
            can_undo: self.history.can_undo(),
            can_redo: self.history.can_redo(),
            report: self.scene.report().checks,
            tool: self.tool,
            triangles: self.scene.triangle_count(),
            dirty: self.dirty,
            bed: self.scene.bed,
            cut_z: self.cut_z,
        };
        self.ui.set(ui);
    }

    /// Records the plate for undo, runs `f`, and keeps the record only when `f` changed something.
    fn edit(&mut self, f: impl FnOnce(&mut Scene) -> Result<bool, String>) {
        let before = self.scene.clone();
        self.history.record(&before);
        match f(&mut self.scene) {
            Ok(true) => {
                self.dirty = true;
                self.error = None;
            }
            Ok(false) => self.history.discard_last(),
            Err(why) => {
                self.history.discard_last();
                self.scene = before;
                self.notice = Some(why);
            }
        }
        self.refresh();
    }

    fn command(&mut self, command: Command) {
        let selected = self.scene.selected;
        let need = |s: Option<u32>| s.ok_or_else(|| text::NO_PART.to_string());
        self.notice = None;
        match command {
            Command::SetPosition(axis, v) => self.edit(|s| Ok(s.set_position(need(selected)?, axis, v))),
            Command::SetRotation(axis, v) => self.edit(|s| {
                let id = need(selected)?;
                let mut r = s.rotation_degrees(id).unwrap_or_default();
                r[axis] = v;
                Ok(s.set_rotation_degrees(id, r))
            }),
            Command::SetSize(axis, v, uniform) => self.edit(|s| Ok(s.set_size(need(selected)?, axis, v, uniform))),
            Command::Nudge(d) => self.edit(|s| Ok(s.translate(need(selected)?, d))),
            Command::Turn(deg) => self.edit(|s| Ok(s.rotate_z(need(selected)?, deg))),
            Command::PlaceOnBed => self.edit(|s| Ok(s.place_on_bed(need(selected)?))),
            Command::Centre => self.edit(|s| Ok(s.centre(need(selected)?))),
            Command::ScaleToFit => self.edit(|s| s.scale_to_fit(need(selected)?).map(|_| true)),
            Command::AddCopy => self.edit(|s| Ok(s.add_copy(need(selected)?).is_some())),
            Command::Remove => self.edit(|s| Ok(s.remove(need(selected)?))),
            Command::Arrange => {
                let mut left = Vec::new();
                self.edit(|s| {
                    left = s.arrange();
                    Ok(true)
                });
                if !left.is_empty() {
                    self.notice = Some(text::did_not_fit(&left));
                    self.refresh_ui();
                }
            }
            Command::Select(id) => {
                self.scene.selected = id;
                self.refresh();
            }
            Command::Tool(tool) => {
                self.tool = if self.tool == tool { Tool::Select } else { tool };
                self.markers.clear();
                self.cut_z = match self.tool {
                    Tool::Cut => self.scene.selected_part().map(|p| {
                        let b = p.bounds();
                        ((b.min[2] + b.max[2]) * 0.5 * 10.0).round() / 10.0
                    }),
                    _ => None,
                };
                if self.tool == Tool::Cut && self.cut_z.is_none() {
                    self.tool = Tool::Select;
                    self.notice = Some(text::NO_PART.into());
                }
                self.refresh();
            }
            Command::CutHeight(z) => {
                self.cut_z = Some(z);
                self.refresh();
            }
            Command::Cut(keep) => {
                let z = self.cut_z;
                self.edit(|s| {
                    let z = z.ok_or_else(|| text::NO_PART.to_string())?;
                    s.cut(need(selected)?, z, keep).map(|ids| !ids.is_empty())
                });
                self.tool = Tool::Select;
                self.cut_z = None;
                self.refresh();
            }
            Command::Undo => {
                if self.history.undo(&mut self.scene) {
                    self.dirty = true;
                }
                self.refresh();
            }
            Command::Redo => {
                if self.history.redo(&mut self.scene) {
                    self.dirty = true;
                }
                self.refresh();
            }
            Command::SetBed(bed) => {
                if bed.iter().all(|v| v.is_finite() && *v > 0.0) && bed != self.scene.bed {
                    self.scene.bed = bed;
                    self.frame_bed();
                    self.refresh();
                }
            }
            Command::Escape => {
                if self.tool != Tool::Select {
                    self.tool = Tool::Select;
                    self.markers.clear();
                    self.cut_z = None;
                } else {
                    self.scene.selected = None;
                }
                self.refresh();
            }
            Command::AddVersion(_) => {}
        }
    }

    fn pointer_down(&mut self, ev: &PointerEvent) {
        ev.prevent_default();
        if let Some(r) = &self.renderer {
            let _ = r.canvas().set_pointer_capture(ev.pointer_id());
            let _ = r.canvas().focus();
        }
        let (x, y) = self.canvas_point(ev);
        self.pointers.retain(|p| p.0 != ev.pointer_id());
        self.pointers.push((ev.pointer_id(), x, y));
        if self.pointers.len() >= 2 {
            self.end_gizmo();
            let (a, b) = (self.pointers[0], self.pointers[1]);
            self.gesture = Gesture::Pinch {
                distance: ((a.1 - b.1).powi(2) + (a.2 - b.2).powi(2)).sqrt(),
                middle: ((a.1 + b.1) * 0.5, (a.2 + b.2) * 0.5),
            };
            return;
        }
        if ev.button() == 1 || ev.button() == 2 || ev.shift_key() {
            self.gesture = Gesture::Pan;
            return;
        }
        if let Some(g) = self.gizmo() {
            let from = self.ray(x, y);
            if let Some(handle) = g.pick(from.0, from.1) {
                let before = self.scene.clone();
                self.history.record(&before);
                let applied = match handle {
                    Handle::MoveX | Handle::MoveY => Drag::Move(Vec3::ZERO),
                    Handle::RotateZ => Drag::Turn(0.0),
                    Handle::Scale => Drag::Scale(1.0),
                };
                self.gesture = Gesture::Gizmo { handle, gizmo: g, from, applied };
                self.request_frame();
                return;
            }
        }
        self.gesture = Gesture::Orbit { moved: 0.0 };
    }

    fn pointer_move(&mut self, ev: &PointerEvent) {
        let (x, y) = self.canvas_point(ev);
        let Some(slot) = self.pointers.iter_mut().find(|p| p.0 == ev.pointer_id()) else { return };
        let (dx, dy) = (x - slot.1, y - slot.2);
        slot.1 = x;
        slot.2 = y;
        let (_, h) = self.size();
        match &mut self.gesture {
            Gesture::None => return,
            Gesture::Orbit { moved } => {
                *moved += dx.abs() + dy.abs();
                if *moved > TAP_PX {
                    self.camera.orbit(dx, dy);
                }
            }
            Gesture::Pan => self.camera.pan(dx, dy, h),
            Gesture::Pinch { distance, middle } => {
                if self.pointers.len() < 2 {
                    return;
                }
                let (a, b) = (self.pointers[0], self.pointers[1]);
                let d = ((a.1 - b.1).powi(2) + (a.2 - b.2).powi(2)).sqrt();
                let m = ((a.1 + b.1) * 0.5, (a.2 + b.2) * 0.5);
                let (old_d, old_m) = (*distance, *middle);
                *distance = d;
                *middle = m;
                if d > 1.0 && old_d > 1.0 {
                    self.camera.zoom(old_d / d);
                }
                self.camera.pan(m.0 - old_m.0, m.1 - old_m.1, h);
            }
            Gesture::Gizmo { handle, gizmo, from, applied } => {
                let (handle, gizmo, from, done) = (*handle, *gizmo, *from, *applied);
                let to = self.ray(x, y);
                let Some(total) = gizmo.drag(handle, from, to) else { return };
                let Some(id) = self.scene.selected else { return };
                let ok = match (total, done) {
                    (Drag::Move(t), Drag::Move(d)) => self.scene.translate(id, t - d),
                    (Drag::Turn(t), Drag::Turn(d)) => self.scene.rotate_z(id, t - d),
                    (Drag::Scale(t), Drag::Scale(d)) if d > 0.0 => self.scene.scale_by(id, t / d),
                    _ => false,
                };
                if ok {
                    if let Gesture::Gizmo { applied, .. } = &mut self.gesture {
                        *applied = total;
                    }
                    self.dirty = true;
                    self.refresh_ui();
                }
            }
        }
        self.request_frame();
    }

    /// Ends a gizmo drag; a drag that changed nothing leaves no undo step.
    fn end_gizmo(&mut self) {
        if let Gesture::Gizmo { applied, .. } = self.gesture {
            let nothing = matches!(applied, Drag::Move(v) if v == Vec3::ZERO)
                || matches!(applied, Drag::Turn(a) if a == 0.0)
                || matches!(applied, Drag::Scale(f) if f == 1.0);
            if nothing {
                self.history.discard_last();
            }
            self.gesture = Gesture::None;
            self.refresh();
        }
    }

    fn pointer_up(&mut self, ev: &PointerEvent) {
        let (x, y) = self.canvas_point(ev);
        self.pointers.retain(|p| p.0 != ev.pointer_id());
        match self.gesture {
            Gesture::Orbit { moved } if moved <= TAP_PX => {
                self.gesture = Gesture::None;
                self.tap(x, y);
            }
            Gesture::Gizmo { .. } => self.end_gizmo(),
            Gesture::Pinch { .. } if !self.pointers.is_empty() => {
                self.gesture = Gesture::None;
            }
            _ => self.gesture = Gesture::None,
        }
        self.request_frame();
    }

    /// A tap (or click) on the canvas: select, lay flat on the face, or a measuring point.
    fn tap(&mut self, x: f32, y: f32) {
        let (o, d) = self.ray(x, y);
        let hit = self.scene.pick(o, d);
        match self.tool {
            Tool::Select | Tool::Cut => {
                self.scene.selected = hit.map(|h| h.0);
                if self.tool == Tool::Cut {
                    self.cut_z = self.scene.selected_part().map(|p| {
                        let b = p.bounds();
                        ((b.min[2] + b.max[2]) * 0.5 * 10.0).round() / 10.0
                    });
                    if self.cut_z.is_none() {
                        self.tool = Tool::Select;
                    }
                }
                self.notice = None;
                self.refresh();
            }
            Tool::LayFlat => match hit {
                Some((id, h)) => {
                    self.scene.selected = Some(id);
                    self.tool = Tool::Select;
                    self.edit(|s| s.lay_flat(id, h.face).map(|_| true));
                }
                None => {
                    self.notice = Some(text::NOTHING_THERE.into());
                    self.refresh();
                }
            },
            Tool::Measure => {
                match hit {
                    Some((_, h)) => {
                        if self.markers.len() >= 2 {
                            self.markers.clear();
                        }
                        self.markers.push(Vec3::from(h.point));
                    }
                    None => self.notice = Some(text::NOTHING_THERE.into()),
                }
                self.refresh();
            }
        }
    }

    /// The hook's view of the editor, as JSON.
    fn state_json(&self) -> serde_json::Value {
        let (w, h) = self.size();
        let parts: Vec<serde_json::Value> = self
            .scene
            .parts
            .iter()
            .map(|p| {
                let b = p.bounds();
                let centre =
                    Vec3::new((b.min[0] + b.max[0]) * 0.5, (b.min[1] + b.max[1]) * 0.5, (b.min[2] + b.max[2]) * 0.5);
                serde_json::json!({
                    "id": p.id, "name": p.name, "triangles": p.mesh.triangle_count(),
                    "min": b.min, "max": b.max, "watertight": p.watertight,
                    "screen": self.camera.project(centre, w, h),
                })
            })
            .collect();
        let handles = self.gizmo().map(|g| {
            let at = |hd: Handle| self.camera.project(g.handle_point(hd), w, h);
            serde_json::json!({
                "x": at(Handle::MoveX), "y": at(Handle::MoveY), "ring": at(Handle::RotateZ), "scale": at(Handle::Scale),
                "xDir": self.camera.project(g.handle_point(Handle::MoveX) + Vec3::X * g.size * 0.5, w, h),
                "origin": self.camera.project(g.origin, w, h),
            })
        });
        serde_json::json!({
            "ready": self.ready, "parts": parts, "selected": self.scene.selected, "bed": self.scene.bed,
            "canUndo": self.history.can_undo(), "frames": self.frames, "width": w, "height": h,
            "gizmo": handles, "tool": format!("{:?}", self.tool), "dirty": self.dirty,
            "camera": {
                "target": self.camera.target.to_array(), "distance": self.camera.distance,
                "yaw": self.camera.yaw, "pitch": self.camera.pitch,
            },
            "markers": self.markers.iter().map(|m| m.to_array()).collect::<Vec<_>>(),
        })
    }

    /// Draws `n` frames back to back, each waited for, and says how long they took.
    fn bench_frames(&mut self, n: u32) -> serde_json::Value {
        let now = || web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now());
        let mut times = Vec::with_capacity(n as usize);
        for i in 0..n.max(1) {
            self.camera.orbit(3.0, 0.0);
            let t0 = now();
            self.draw();
            if let Some(r) = &self.renderer {
                r.finish();
                r.read_one_pixel();
            }
            times.push(now() - t0);
            let _ = i;
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        serde_json::json!({
            "frames": times.len(), "triangles": self.scene.triangle_count(),
            "mean_ms": mean, "median_ms": times[times.len() / 2], "max_ms": times[times.len() - 1],
        })
    }

    /// Times the plate operations on the first part, on a copy of the plate (nothing changes).
    fn bench_ops(&self) -> serde_json::Value {
        let now = || web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now());
        let Some(first) = self.scene.parts.first() else { return serde_json::json!({ "error": "empty plate" }) };
        let id = first.id;
        let mut s = self.scene.clone();
        let t = now();
        s.translate(id, Vec3::new(0.0, 0.0, 5.0));
        s.place_on_bed(id);
        let place = now() - t;
        let t = now();
        s.set_size(id, 0, s.size(id).unwrap_or([1.0; 3])[0] * 1.1, true);
        let _ = s.report();
        let transform = now() - t;
        let t = now();
        let (o, d) = {
            let b = first.bounds();
            (Vec3::new((b.min[0] + b.max[0]) * 0.5, (b.min[1] + b.max[1]) * 0.5, b.max[2] + 100.0), Vec3::NEG_Z)
        };
        let hit = s.pick(o, d);
        let pick = now() - t;
        let t = now();
        let lay = s.lay_flat(id, hit.map_or(0, |h| h.1.face)).is_ok();
        let lay_flat = now() - t;
        let b = s.part(id).map(|p| p.bounds());
        let z = b.map_or(1.0, |b| (b.min[2] + b.max[2]) * 0.5);
        // The cut's geometry alone (crates/mesh), then the whole editor step: the cut, both halves
        // checked for holes, placed on the bed and arranged.
        let t = now();
        let mut placed = (*first.mesh).clone();
        if let Some(p) = s.part(id) {
            placed.transform(&p.matrix());
        }
        let pieces = mesh::ops::cut(&placed, &mesh::ops::Plane::horizontal(z))
            .map(|(a, b)| a.triangle_count() + b.triangle_count())
            .unwrap_or(0);
        let cut_geometry = now() - t;
        let t = now();
        let cut = s.cut(id, z, Keep::Both).map(|v| v.len()).unwrap_or(0);
        let cut_ms = now() - t;
        serde_json::json!({
            "triangles": first.mesh.triangle_count(), "place_on_bed_ms": place, "transform_feedback_ms": transform,
            "pick_ms": pick, "lay_flat_ms": lay_flat, "lay_flat_ok": lay, "cut_ms": cut_ms, "cut_parts": cut,
            "cut_geometry_ms": cut_geometry, "cut_triangles": pieces,
        })
    }
}

fn json_value(v: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

/// `window.__printfarmEditor`: `state()`, `benchFrames(n)`, `benchOps()`, `project(x, y, z)`.
fn install_hook(editor: &Shared) {
    let Some(window) = web_sys::window() else { return };
    let hook = js_sys::Object::new();
    let weak = Rc::downgrade(editor);
    let state = Closure::wrap(Box::new(move || {
        weak.upgrade().and_then(|rc| rc.try_borrow().ok().map(|e| json_value(&e.state_json()))).unwrap_or(JsValue::NULL)
    }) as Box<dyn Fn() -> JsValue>);
    let weak = Rc::downgrade(editor);
    let frames = Closure::wrap(Box::new(move |n: u32| {
        weak.upgrade()
            .and_then(|rc| rc.try_borrow_mut().ok().map(|mut e| json_value(&e.bench_frames(n))))
            .unwrap_or(JsValue::NULL)
    }) as Box<dyn Fn(u32) -> JsValue>);
    let weak = Rc::downgrade(editor);
    let ops = Closure::wrap(Box::new(move || {
        weak.upgrade().and_then(|rc| rc.try_borrow().ok().map(|e| json_value(&e.bench_ops()))).unwrap_or(JsValue::NULL)
    }) as Box<dyn Fn() -> JsValue>);
    let weak = Rc::downgrade(editor);
    let project = Closure::wrap(Box::new(move |x: f32, y: f32, z: f32| {
        weak.upgrade()
            .and_then(|rc| {
                rc.try_borrow().ok().map(|e| {
                    let (w, h) = e.size();
                    json_value(&serde_json::json!(e.camera.project(Vec3::new(x, y, z), w, h)))
                })
            })
            .unwrap_or(JsValue::NULL)
    }) as Box<dyn Fn(f32, f32, f32) -> JsValue>);
    let _ = js_sys::Reflect::set(&hook, &"state".into(), state.as_ref());
    let _ = js_sys::Reflect::set(&hook, &"benchFrames".into(), frames.as_ref());
    let _ = js_sys::Reflect::set(&hook, &"benchOps".into(), ops.as_ref());
    let _ = js_sys::Reflect::set(&hook, &"project".into(), project.as_ref());
    let _ = js_sys::Reflect::set(&window, &"__printfarmEditor".into(), &hook);
    // The hook lives as long as the page; the closures hold only weak references to the editor.
    state.forget();
    frames.forget();
    ops.forget();
    project.forget();
}
