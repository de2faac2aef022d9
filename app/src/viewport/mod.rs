//! The editor's 3D view: WebGL2 from Rust (web-sys). It only displays meshes and returns nothing but
//! pixels; the geometry truth stays in `crates/mesh` and the scene in `pages::editor::scene`.
//!
//! Meshes are uploaded once as indexed vertex buffers (positions only) and placed by a model matrix,
//! so moving, turning or scaling a part changes one uniform. Faces are shaded flat with normals taken
//! from screen-space derivatives of the position, which needs no normal buffer (half the memory for
//! million-triangle models) and shows every facet crisply.

use std::collections::HashMap;
use std::sync::Arc;

use glam::{Mat4, Vec3};
use mesh::{Aabb, IndexedMesh};
use wasm_bindgen::JsCast;
use web_sys::{
    HtmlCanvasElement, WebGl2RenderingContext as Gl, WebGlBuffer, WebGlProgram, WebGlUniformLocation,
    WebGlVertexArrayObject,
};

use crate::pages::editor::camera::{Gizmo, Handle, OrbitCamera, RING, SCALE_AT, SCALE_DIR};

/// Colours (linear 0–1 RGBA), also read back by the browser tests.
pub const BACKGROUND: [f32; 4] = [0.12, 0.14, 0.19, 1.0];
pub const PLATE: [f32; 4] = [0.23, 0.25, 0.30, 1.0];
pub const GRID: [f32; 4] = [0.34, 0.37, 0.44, 1.0];
pub const OUTLINE: [f32; 4] = [0.62, 0.70, 0.82, 1.0];
pub const PART: [f32; 4] = [0.30, 0.62, 0.95, 1.0];
pub const SELECTED: [f32; 4] = [1.0, 0.62, 0.18, 1.0];
pub const PROBLEM: [f32; 4] = [0.92, 0.20, 0.20, 1.0];
pub const SELECTED_PROBLEM: [f32; 4] = [1.0, 0.38, 0.30, 1.0];
const AXIS_X: [f32; 4] = [0.95, 0.25, 0.25, 1.0];
const AXIS_Y: [f32; 4] = [0.30, 0.85, 0.35, 1.0];
const AXIS_Z: [f32; 4] = [0.35, 0.55, 1.0, 1.0];
const SCALE: [f32; 4] = [1.0, 0.85, 0.20, 1.0];
const ACTIVE: [f32; 4] = [1.0, 1.0, 1.0, 1.0];
const MARKER: [f32; 4] = [1.0, 0.95, 0.30, 1.0];
const CUT: [f32; 4] = [1.0, 0.30, 0.55, 0.35];
/// Grid spacing on the bed, mm.
pub const GRID_MM: f32 = 10.0;

const VERTEX: &str = r#"#version 300 es
layout(location = 0) in vec3 a_pos;
uniform mat4 u_model;
uniform mat4 u_viewproj;
out vec3 v_world;
void main() {
    vec4 w = u_model * vec4(a_pos, 1.0);
    v_world = w.xyz;
    gl_Position = u_viewproj * w;
}
"#;

const FRAGMENT: &str = r#"#version 300 es
precision highp float;
in vec3 v_world;
uniform vec4 u_color;
uniform int u_lit;
uniform vec3 u_eye;
out vec4 o_color;
void main() {
    if (u_lit == 0) { o_color = u_color; return; }
    vec3 n = normalize(cross(dFdx(v_world), dFdy(v_world)));
    vec3 toward = normalize(u_eye - v_world);
    if (dot(n, toward) < 0.0) { n = -n; }
    float head = max(dot(n, toward), 0.0);
    float key = max(dot(n, normalize(vec3(0.35, 0.45, 1.0))), 0.0);
    o_color = vec4(u_color.rgb * (0.30 + 0.45 * head + 0.30 * key), u_color.a);
}
"#;

/// A mesh on the GPU.
struct GpuMesh {
    vao: WebGlVertexArrayObject,
    buffers: [WebGlBuffer; 2],
    count: i32,
    /// Which mesh it was made from (`Arc` pointer): a new mesh for the same part re-uploads.
    source: usize,
}

/// Line segments on the GPU.
struct GpuLines {
    vao: WebGlVertexArrayObject,
    buffer: WebGlBuffer,
    count: i32,
}

/// One part to draw.
pub struct PartDraw<'a> {
    pub id: u32,
    pub mesh: &'a Arc<IndexedMesh>,
    pub matrix: Mat4,
    pub colour: [f32; 4],
}

/// Everything one frame shows.
pub struct Frame<'a> {
    pub camera: &'a OrbitCamera,
    pub bed: [f32; 3],
    pub parts: Vec<PartDraw<'a>>,
    pub gizmo: Option<(Gizmo, Option<Handle>)>,
    /// Measuring points and the line between them.
    pub markers: &'a [Vec3],
    /// A cut preview: the height and the part's bounds.
    pub cut: Option<(f32, Aabb)>,
}

/// The WebGL2 renderer of one canvas.
pub struct Renderer {
    gl: Gl,
    canvas: HtmlCanvasElement,
    program: WebGlProgram,
    u_model: Option<WebGlUniformLocation>,
    u_viewproj: Option<WebGlUniformLocation>,
    u_color: Option<WebGlUniformLocation>,
    u_lit: Option<WebGlUniformLocation>,
    u_eye: Option<WebGlUniformLocation>,
    parts: HashMap<u32, GpuMesh>,
    bed: Option<([f32; 3], GpuMesh, GpuLines, GpuLines)>,
    arrow: GpuMesh,
    ring: GpuMesh,
    handle: GpuMesh,
    sphere: GpuMesh,
    quad: GpuMesh,
    scratch: GpuLines,
}

impl Renderer {
    /// A WebGL2 context on `canvas` (with `preserveDrawingBuffer`, so tests and screenshots can read
    /// the pixels back after the frame).
    pub fn new(canvas: HtmlCanvasElement) -> Result<Self, String> {
        let attrs = web_sys::WebGlContextAttributes::new();
        attrs.set_antialias(true);
        attrs.set_preserve_drawing_buffer(true);
        let gl: Gl = canvas
            .get_context_with_context_options("webgl2", &attrs)
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<Gl>().ok())
            .ok_or_else(|| crate::pages::editor::text::NO_WEBGL.to_string())?;
        let program = link(&gl)?;
        let u = |name: &str| gl.get_uniform_location(&program, name);
        let (u_model, u_viewproj, u_color, u_lit, u_eye) =
            (u("u_model"), u("u_viewproj"), u("u_color"), u("u_lit"), u("u_eye"));
        use mesh::primitives::{box_mesh, cylinder, torus, uv_sphere};
        let mut arrow = cylinder(0.025, 0.8, 12);
        let mut head = cylinder(0.075, 0.25, 16);
        head.translate([0.0, 0.0, 0.8]);
        arrow.append(&head);
        let mut handle = box_mesh([-0.1, -0.1, 0.0], [0.1, 0.1, 0.12]);
        handle.translate((SCALE_DIR * SCALE_AT).to_array());
        let quad = IndexedMesh::new(
            vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]],
            vec![[0, 1, 2], [0, 2, 3]],
        )
        .unwrap_or_default();
        Ok(Self {
            arrow: upload(&gl, &arrow, 0)?,
            ring: upload(&gl, &torus(RING, 0.03, 64, 8), 0)?,
            handle: upload(&gl, &handle, 0)?,
            sphere: upload(&gl, &uv_sphere(1.0, 16, 8), 0)?,
            quad: upload(&gl, &quad, 0)?,
            scratch: lines(&gl, &[])?,
            gl,
            canvas,
            program,
            u_model,
            u_viewproj,
            u_color,
            u_lit,
            u_eye,
            parts: HashMap::new(),
            bed: None,
        })
    }

    pub fn canvas(&self) -> &HtmlCanvasElement {
        &self.canvas
    }

    /// The canvas size in CSS pixels.
    pub fn css_size(&self) -> (f32, f32) {
        (self.canvas.client_width().max(1) as f32, self.canvas.client_height().max(1) as f32)
    }

    /// Draws a frame. Part meshes are uploaded the first time they are seen and freed when they are
    /// no longer drawn.
    pub fn draw(&mut self, frame: &Frame) -> Result<(), String> {
        let (w, h) = self.css_size();
        let ratio = web_sys::window().map(|w| w.device_pixel_ratio()).unwrap_or(1.0).clamp(1.0, 2.0) as f32;
        let (pw, ph) = ((w * ratio).round() as u32, (h * ratio).round() as u32);
        if self.canvas.width() != pw || self.canvas.height() != ph {
            self.canvas.set_width(pw);
            self.canvas.set_height(ph);
        }
        let gl = self.gl.clone();
        gl.viewport(0, 0, pw as i32, ph as i32);
        gl.clear_color(BACKGROUND[0], BACKGROUND[1], BACKGROUND[2], BACKGROUND[3]);
        gl.enable(Gl::DEPTH_TEST);
        gl.depth_mask(true);
        gl.disable(Gl::BLEND);
        gl.clear(Gl::COLOR_BUFFER_BIT | Gl::DEPTH_BUFFER_BIT);
        gl.use_program(Some(&self.program));
        let vp = frame.camera.view_projection(w, h);
        gl.uniform_matrix4fv_with_f32_array(self.u_viewproj.as_ref(), false, &vp.to_cols_array());
        gl.uniform3fv_with_f32_array(self.u_eye.as_ref(), &frame.camera.eye().to_array());

        // The bed: plate, 10 mm grid, the build volume's outline.
        if self.bed.as_ref().is_none_or(|b| b.0 != frame.bed) {
            if let Some((_, plate, grid, outline)) = self.bed.take() {
                self.free_mesh(plate);
                self.free_lines(grid);
                self.free_lines(outline);
            }
            let [x, y, _] = frame.bed;
            let plate = IndexedMesh::new(
                vec![[0.0, 0.0, -0.2], [x, 0.0, -0.2], [x, y, -0.2], [0.0, y, -0.2]],
                vec![[0, 1, 2], [0, 2, 3]],
            )
            .unwrap_or_default();
            self.bed = Some((
                frame.bed,
                upload(&gl, &plate, 0)?,
                lines(&gl, &grid_lines(frame.bed))?,
                lines(&gl, &box_lines(frame.bed))?,
            ));
        }
        if let Some((_, plate, grid, outline)) = &self.bed {
            self.set(Mat4::IDENTITY, PLATE, false);
            draw_mesh(&gl, plate);
            self.set(Mat4::IDENTITY, GRID, false);
            draw_lines(&gl, grid);
            self.set(Mat4::IDENTITY, OUTLINE, false);
            draw_lines(&gl, outline);
        }

        // The parts.
        let wanted: Vec<u32> = frame.parts.iter().map(|p| p.id).collect();
        let stale: Vec<u32> = self.parts.keys().copied().filter(|id| !wanted.contains(id)).collect();
        for id in stale {
            if let Some(m) = self.parts.remove(&id) {
                self.free_mesh(m);
            }
        }
        for p in &frame.parts {
            let source = Arc::as_ptr(p.mesh) as usize;
            if self.parts.get(&p.id).is_none_or(|g| g.source != source) {
                if let Some(old) = self.parts.remove(&p.id) {
                    self.free_mesh(old);
                }
                self.parts.insert(p.id, upload(&gl, p.mesh, source)?);
            }
            self.set(p.matrix, p.colour, true);
            if let Some(m) = self.parts.get(&p.id) {
                draw_mesh(&gl, m);
            }
        }

        // Measuring points.
        let mm_px = frame.camera.mm_per_pixel(h);
        for m in frame.markers {
            self.set(
                Mat4::from_scale_rotation_translation(Vec3::splat(mm_px * 6.0), glam::Quat::IDENTITY, *m),
                MARKER,
                true,
            );
            draw_mesh(&gl, &self.sphere);
        }
        if let [a, b] = frame.markers {
            gl.disable(Gl::DEPTH_TEST);
            self.set_lines(&[*a, *b])?;
            self.set(Mat4::IDENTITY, MARKER, false);
            draw_lines(&gl, &self.scratch);
            gl.enable(Gl::DEPTH_TEST);
        }

        // The cut plane, see-through.
        if let Some((z, b)) = frame.cut {
            gl.enable(Gl::BLEND);
            gl.blend_func(Gl::SRC_ALPHA, Gl::ONE_MINUS_SRC_ALPHA);
            gl.depth_mask(false);
            let pad = 10.0;
            let m = Mat4::from_translation(Vec3::new(b.min[0] - pad, b.min[1] - pad, z))
                * Mat4::from_scale(Vec3::new(b.size()[0] + 2.0 * pad, b.size()[1] + 2.0 * pad, 1.0));
            self.set(m, CUT, false);
            draw_mesh(&gl, &self.quad);
            gl.depth_mask(true);
            gl.disable(Gl::BLEND);
        }

        // The gizmo, always on top.
        if let Some((g, active)) = frame.gizmo {
            gl.clear(Gl::DEPTH_BUFFER_BIT);
            let base = Mat4::from_translation(g.origin) * Mat4::from_scale(Vec3::splat(g.size));
            let pick = |h: Handle, c: [f32; 4]| if active == Some(h) { ACTIVE } else { c };
            self.set(base * Mat4::from_rotation_y(std::f32::consts::FRAC_PI_2), pick(Handle::MoveX, AXIS_X), true);
            draw_mesh(&gl, &self.arrow);
            self.set(base * Mat4::from_rotation_x(-std::f32::consts::FRAC_PI_2), pick(Handle::MoveY, AXIS_Y), true);
            draw_mesh(&gl, &self.arrow);
            self.set(base, pick(Handle::RotateZ, AXIS_Z), true);
            draw_mesh(&gl, &self.ring);
            self.set(base, pick(Handle::Scale, SCALE), true);
            draw_mesh(&gl, &self.handle);
        }
        match gl.get_error() {
            Gl::NO_ERROR => Ok(()),
            Gl::OUT_OF_MEMORY => Err("the graphics card ran out of memory for this model".into()),
            e => Err(format!("WebGL error {e:#x}")),
        }
    }

    /// Blocks until the GPU has finished the frame (for timing).
    pub fn finish(&self) {
        self.gl.finish();
    }

    /// Reads one pixel back, which waits for the frame to be rasterised (for timing).
    pub fn read_one_pixel(&self) {
        let mut px = [0u8; 4];
        let _ = self.gl.read_pixels_with_opt_u8_array(0, 0, 1, 1, Gl::RGBA, Gl::UNSIGNED_BYTE, Some(&mut px));
    }

    fn set(&self, model: Mat4, colour: [f32; 4], lit: bool) {
        self.gl.uniform_matrix4fv_with_f32_array(self.u_model.as_ref(), false, &model.to_cols_array());
        self.gl.uniform4fv_with_f32_array(self.u_color.as_ref(), &colour);
        self.gl.uniform1i(self.u_lit.as_ref(), i32::from(lit));
    }

    fn set_lines(&mut self, points: &[Vec3]) -> Result<(), String> {
        let flat: Vec<f32> = points.iter().flat_map(|p| p.to_array()).collect();
        self.gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&self.scratch.buffer));
        self.gl.buffer_data_with_array_buffer_view(
            Gl::ARRAY_BUFFER,
            &js_sys::Float32Array::from(&flat[..]),
            Gl::DYNAMIC_DRAW,
        );
        self.scratch.count = points.len() as i32;
        Ok(())
    }

    fn free_mesh(&self, m: GpuMesh) {
        self.gl.delete_vertex_array(Some(&m.vao));
        for b in &m.buffers {
            self.gl.delete_buffer(Some(b));
        }
    }

    fn free_lines(&self, l: GpuLines) {
        self.gl.delete_vertex_array(Some(&l.vao));
        self.gl.delete_buffer(Some(&l.buffer));
    }
}

fn compile(gl: &Gl, kind: u32, source: &str) -> Result<web_sys::WebGlShader, String> {
    let shader = gl.create_shader(kind).ok_or("cannot create a shader")?;
    gl.shader_source(&shader, source);
    gl.compile_shader(&shader);
    if gl.get_shader_parameter(&shader, Gl::COMPILE_STATUS).as_bool().unwrap_or(false) {
        Ok(shader)
    } else {
        Err(gl.get_shader_info_log(&shader).unwrap_or_else(|| "the shader did not compile".into()))
    }
}

fn link(gl: &Gl) -> Result<WebGlProgram, String> {
    let vs = compile(gl, Gl::VERTEX_SHADER, VERTEX)?;
    let fs = compile(gl, Gl::FRAGMENT_SHADER, FRAGMENT)?;
    let program = gl.create_program().ok_or("cannot create a shader program")?;
    gl.attach_shader(&program, &vs);
    gl.attach_shader(&program, &fs);
    gl.link_program(&program);
    if gl.get_program_parameter(&program, Gl::LINK_STATUS).as_bool().unwrap_or(false) {
        Ok(program)
    } else {
        Err(gl.get_program_info_log(&program).unwrap_or_else(|| "the shader program did not link".into()))
    }
}

fn upload(gl: &Gl, mesh: &IndexedMesh, source: usize) -> Result<GpuMesh, String> {
    let vao = gl.create_vertex_array().ok_or("cannot create a vertex array")?;
    gl.bind_vertex_array(Some(&vao));
    let vbo = gl.create_buffer().ok_or("cannot create a buffer")?;
    gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&vbo));
    gl.buffer_data_with_array_buffer_view(
        Gl::ARRAY_BUFFER,
        &js_sys::Float32Array::from(mesh.vertices().as_flattened()),
        Gl::STATIC_DRAW,
    );
    gl.enable_vertex_attrib_array(0);
    gl.vertex_attrib_pointer_with_i32(0, 3, Gl::FLOAT, false, 12, 0);
    let ibo = gl.create_buffer().ok_or("cannot create a buffer")?;
    gl.bind_buffer(Gl::ELEMENT_ARRAY_BUFFER, Some(&ibo));
    gl.buffer_data_with_array_buffer_view(
        Gl::ELEMENT_ARRAY_BUFFER,
        &js_sys::Uint32Array::from(mesh.triangles().as_flattened()),
        Gl::STATIC_DRAW,
    );
    gl.bind_vertex_array(None);
    Ok(GpuMesh { vao, buffers: [vbo, ibo], count: (mesh.triangle_count() * 3) as i32, source })
}

fn lines(gl: &Gl, points: &[Vec3]) -> Result<GpuLines, String> {
    let vao = gl.create_vertex_array().ok_or("cannot create a vertex array")?;
    gl.bind_vertex_array(Some(&vao));
    let buffer = gl.create_buffer().ok_or("cannot create a buffer")?;
    gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&buffer));
    let flat: Vec<f32> = points.iter().flat_map(|p| p.to_array()).collect();
    gl.buffer_data_with_array_buffer_view(Gl::ARRAY_BUFFER, &js_sys::Float32Array::from(&flat[..]), Gl::STATIC_DRAW);
    gl.enable_vertex_attrib_array(0);
    gl.vertex_attrib_pointer_with_i32(0, 3, Gl::FLOAT, false, 12, 0);
    gl.bind_vertex_array(None);
    Ok(GpuLines { vao, buffer, count: points.len() as i32 })
}

fn draw_mesh(gl: &Gl, m: &GpuMesh) {
    gl.bind_vertex_array(Some(&m.vao));
    gl.draw_elements_with_i32(Gl::TRIANGLES, m.count, Gl::UNSIGNED_INT, 0);
}

fn draw_lines(gl: &Gl, l: &GpuLines) {
    gl.bind_vertex_array(Some(&l.vao));
    gl.draw_arrays(Gl::LINES, 0, l.count);
}

/// Lines every [`GRID_MM`] across the bed, just under the parts.
fn grid_lines(bed: [f32; 3]) -> Vec<Vec3> {
    let z = -0.05;
    let mut out = Vec::new();
    let mut x = GRID_MM;
    while x < bed[0] {
        out.extend([Vec3::new(x, 0.0, z), Vec3::new(x, bed[1], z)]);
        x += GRID_MM;
    }
    let mut y = GRID_MM;
    while y < bed[1] {
        out.extend([Vec3::new(0.0, y, z), Vec3::new(bed[0], y, z)]);
        y += GRID_MM;
    }
    out
}

/// The twelve edges of the build volume.
fn box_lines(bed: [f32; 3]) -> Vec<Vec3> {
    let [x, y, z] = bed;
    let c = |i: u8| {
        Vec3::new(if i & 1 != 0 { x } else { 0.0 }, if i & 2 != 0 { y } else { 0.0 }, if i & 4 != 0 { z } else { 0.0 })
    };
    let edges = [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)];
    edges.iter().flat_map(|&(a, b)| [c(a), c(b)]).collect()
}
