//! The toolpath model: what the nozzle extrudes on each layer, before it becomes G-code.
//!
//! Width is stored per vertex (not per path) so variable-width walls (Arachne-style) fit the same model later.

use glam::DVec2;
use serde::Serialize;

/// What a piece of extrusion is for; decides speed, the `;TYPE:` marker and the preview colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ExternalPerimeter,
    Perimeter,
    /// Wall over air: printed slowly with round (bridge) beads.
    OverhangPerimeter,
    InternalInfill,
    SolidInfill,
    TopSolidInfill,
    BridgeInfill,
    Skirt,
    Brim,
    Support,
    SupportInterface,
}

impl Role {
    /// Every role, in the order preview legends list them.
    pub const ALL: [Role; 11] = [
        Role::ExternalPerimeter,
        Role::Perimeter,
        Role::OverhangPerimeter,
        Role::InternalInfill,
        Role::SolidInfill,
        Role::TopSolidInfill,
        Role::BridgeInfill,
        Role::Skirt,
        Role::Brim,
        Role::Support,
        Role::SupportInterface,
    ];

    /// The `;TYPE:` name PrusaSlicer uses, which G-code viewers and hosts already understand.
    pub fn label(self) -> &'static str {
        match self {
            Role::ExternalPerimeter => "External perimeter",
            Role::Perimeter => "Perimeter",
            Role::OverhangPerimeter => "Overhang perimeter",
            Role::InternalInfill => "Internal infill",
            Role::SolidInfill => "Solid infill",
            Role::TopSolidInfill => "Top solid infill",
            Role::BridgeInfill => "Bridge infill",
            Role::Skirt => "Skirt/Brim",
            Role::Brim => "Skirt/Brim",
            Role::Support => "Support material",
            Role::SupportInterface => "Support material interface",
        }
    }

    /// Small integer code used by the compact preview encoding.
    pub fn code(self) -> u8 {
        Role::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8
    }

    /// Walls of the part, whose order and seams matter.
    pub fn is_perimeter(self) -> bool {
        matches!(self, Role::ExternalPerimeter | Role::Perimeter | Role::OverhangPerimeter)
    }
}

/// A polyline (or loop) extruded with one role at one layer height.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtrusionPath {
    pub role: Role,
    pub points: Vec<DVec2>,
    /// Bead width at each point, mm; the segment from `i` to `i+1` uses the mean of both.
    pub widths: Vec<f32>,
    /// Loops return to their first point.
    pub closed: bool,
}

impl ExtrusionPath {
    /// A path of constant width.
    pub fn new(role: Role, points: Vec<DVec2>, width: f64, closed: bool) -> Self {
        let widths = vec![width as f32; points.len()];
        ExtrusionPath { role, points, widths, closed }
    }

    /// Drawn length, including the closing segment of a loop.
    pub fn length(&self) -> f64 {
        let open: f64 = self.points.windows(2).map(|w| w[0].distance(w[1])).sum();
        match (self.closed, self.points.first(), self.points.last()) {
            (true, Some(a), Some(b)) => open + a.distance(*b),
            _ => open,
        }
    }

    /// Where the nozzle starts.
    pub fn start(&self) -> DVec2 {
        self.points[0]
    }

    /// Where the nozzle ends.
    pub fn end(&self) -> DVec2 {
        if self.closed {
            self.points[0]
        } else {
            *self.points.last().unwrap()
        }
    }

    /// Walks an open path the other way.
    pub fn reverse(&mut self) {
        self.points.reverse();
        self.widths.reverse();
    }

    /// Starts a loop at point `index` (the seam).
    pub fn rotate_start(&mut self, index: usize) {
        self.points.rotate_left(index);
        self.widths.rotate_left(index);
    }
}

/// The paths of one island (or support region), printed together so travel stays local.
#[derive(Debug, Clone, Default)]
pub struct IslandPaths {
    /// Walls, innermost first; the external one last.
    pub perimeters: Vec<ExtrusionPath>,
    /// Infill of every kind, in printing order.
    pub fills: Vec<ExtrusionPath>,
    /// The island's outline: travel that stays inside it need not retract.
    pub boundary: Vec<crate::geom::Polygon>,
}

/// One object's paths on one layer.
#[derive(Debug, Clone, Default)]
pub struct ObjectLayer {
    pub islands: Vec<IslandPaths>,
    pub support: Vec<ExtrusionPath>,
}

/// Everything on one layer.
#[derive(Debug, Clone)]
pub struct LayerPaths {
    /// Top of the layer, mm.
    pub z: f64,
    pub height: f64,
    /// Skirt and brim, printed first.
    pub adhesion: Vec<ExtrusionPath>,
    /// Indexed like the plate's objects.
    pub objects: Vec<ObjectLayer>,
}
