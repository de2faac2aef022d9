//! The procedural tier: parametric templates that build exact, watertight, printable meshes in
//! milliseconds, and matching a parsed prompt to them.
//!
//! - [`Template`]: the catalogue (name tag, vase, gear, box with lid, …), each with a name, a
//!   one-line description, keywords and [`ParamSpec`]s a UI can turn into sliders.
//! - [`Params`]: the values chosen (numbers and text); [`Params::resolved`] fills defaults and
//!   clamps to the ranges.
//! - [`match_prompt`]: templates ranked for a [`ParsedPrompt`], with the prompt's numbers mapped
//!   into parameters; [`CONFIDENT`] is the score at which auto mode goes ahead without asking.
//! - [`build`]: the meshes. Geometry is exact (extruded polygons with holes, surfaces of
//!   revolution, stacked 2.5D layers sharing their vertices), never voxels: every part is a
//!   closed 2-manifold, outward-facing, on z = 0 and centred on the origin.

pub mod geom;
mod objects;
mod plates;
mod revolve;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prompt::{Axis, ParsedPrompt, Shape};
use crate::text::TextError;

/// The score from which auto mode uses a template without asking; below it, callers show the
/// closest templates.
pub const CONFIDENT: f32 = 0.6;

/// Build volume every template's output must fit (x, y, z mm).
pub const BED_MM: [f32; 3] = [180.0, 180.0, 180.0];

/// Every template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    NameTag,
    DoorSign,
    Keychain,
    Vase,
    PencilCup,
    BoxWithLid,
    Gear,
    Coaster,
    CookieCutter,
    PlantPot,
    PhoneStand,
    Dice,
    Bookmark,
    Ruler,
}

/// How a parameter is chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ParamKind {
    /// A slider.
    Number { min: f64, max: f64, default: f64, step: f64, integer: bool },
    /// A tick box (stored as 0 or 1).
    Toggle { default: bool },
    /// One of a few words.
    Choice { options: &'static [&'static str], default: &'static str },
    /// Free text (what is written on the object).
    Text { default: &'static str, max_chars: usize },
}

/// One parameter of a template, for a UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    pub key: &'static str,
    pub label: &'static str,
    /// "mm", "°", "" …
    pub unit: &'static str,
    pub kind: ParamKind,
}

impl ParamSpec {
    fn num(
        key: &'static str,
        label: &'static str,
        unit: &'static str,
        min: f64,
        max: f64,
        default: f64,
        step: f64,
    ) -> Self {
        Self { key, label, unit, kind: ParamKind::Number { min, max, default, step, integer: false } }
    }
    fn int(key: &'static str, label: &'static str, min: f64, max: f64, default: f64) -> Self {
        Self { key, label, unit: "", kind: ParamKind::Number { min, max, default, step: 1.0, integer: true } }
    }
    fn toggle(key: &'static str, label: &'static str, default: bool) -> Self {
        Self { key, label, unit: "", kind: ParamKind::Toggle { default } }
    }
    fn choice(key: &'static str, label: &'static str, options: &'static [&'static str], default: &'static str) -> Self {
        Self { key, label, unit: "", kind: ParamKind::Choice { options, default } }
    }
    fn text(key: &'static str, label: &'static str, default: &'static str, max_chars: usize) -> Self {
        Self { key, label, unit: "", kind: ParamKind::Text { default, max_chars } }
    }

    /// The default value.
    pub fn default_value(&self) -> Value {
        match &self.kind {
            ParamKind::Number { default, .. } => Value::Number(*default),
            ParamKind::Toggle { default } => Value::Number(if *default { 1.0 } else { 0.0 }),
            ParamKind::Choice { default, .. } => Value::Text((*default).to_string()),
            ParamKind::Text { default, .. } => Value::Text((*default).to_string()),
        }
    }

    /// `v` made valid for this parameter: clamped, snapped to the step, or the default when it
    /// is of the wrong kind.
    pub fn clamp(&self, v: Option<&Value>) -> Value {
        match (&self.kind, v) {
            (ParamKind::Number { min, max, default, step, integer }, Some(Value::Number(x))) => {
                let x = if x.is_finite() { *x } else { *default };
                let mut x = x.clamp(*min, *max);
                if *integer {
                    x = x.round();
                } else if *step > 0.0 {
                    x = (min + ((x - min) / step).round() * step).clamp(*min, *max);
                    x = (x * 1e6).round() / 1e6;
                }
                Value::Number(x)
            }
            (ParamKind::Toggle { .. }, Some(Value::Number(x))) => Value::Number(if *x >= 0.5 { 1.0 } else { 0.0 }),
            (ParamKind::Choice { options, default }, Some(Value::Text(s))) => {
                let s = s.trim().to_lowercase();
                Value::Text(options.iter().find(|o| **o == s).unwrap_or(default).to_string())
            }
            (ParamKind::Text { max_chars, .. }, Some(Value::Text(s))) => {
                let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
                Value::Text(s.chars().filter(|c| !c.is_control()).take(*max_chars).collect())
            }
            _ => self.default_value(),
        }
    }
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// Parameter values by key. Missing keys take the template's defaults when resolved.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Params {
    pub values: BTreeMap<String, Value>,
}

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every parameter of `t` at its default.
    pub fn defaults(t: Template) -> Self {
        Self { values: t.params().iter().map(|s| (s.key.to_string(), s.default_value())).collect() }
    }

    pub fn set_number(&mut self, key: &str, v: f64) -> &mut Self {
        self.values.insert(key.to_string(), Value::Number(v));
        self
    }

    pub fn set_text(&mut self, key: &str, v: &str) -> &mut Self {
        self.values.insert(key.to_string(), Value::Text(v.to_string()));
        self
    }

    pub fn with_number(mut self, key: &str, v: f64) -> Self {
        self.set_number(key, v);
        self
    }

    pub fn with_text(mut self, key: &str, v: &str) -> Self {
        self.set_text(key, v);
        self
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        match self.values.get(key) {
            Some(Value::Number(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }

    /// Exactly `t`'s parameters: defaults filled in, values clamped and snapped, unknown keys
    /// dropped.
    pub fn resolved(&self, t: Template) -> Params {
        Params { values: t.params().iter().map(|s| (s.key.to_string(), s.clamp(self.values.get(s.key)))).collect() }
    }

    /// A resolved number (0 when absent: only call on [`Params::resolved`] output).
    pub(crate) fn num(&self, key: &str) -> f64 {
        self.number(key).unwrap_or(0.0)
    }
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.num(key) >= 0.5
    }
    pub(crate) fn txt(&self, key: &str) -> &str {
        self.text(key).unwrap_or("")
    }
    pub(crate) fn count(&self, key: &str) -> usize {
        self.num(key).max(0.0) as usize
    }
}

/// One printable piece.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub mesh: mesh::IndexedMesh,
}

/// Why a template could not be built, in words a student understands.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProceduralError {
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(
        "the {shape} shape is too small or too pointy for a {blade} mm blade and a {flange} mm rim. Make the cookie \
         cutter bigger, or pick a rounder shape."
    )]
    ShapeTooSmall { shape: String, blade: f64, flange: f64 },
    #[error(
        "the text does not fit on the {template}: there is no room left between the edges and the holes. Make it \
         bigger, or turn the hole off."
    )]
    NoRoomForText { template: &'static str },
    #[error(
        "something went wrong while building the {template} ({detail}). This is our mistake, not yours: try \
         slightly different settings, and tell your teacher."
    )]
    Internal { template: &'static str, detail: String },
}

const SHAPES: &[&str] = &["round", "square", "triangle", "pentagon", "hexagon", "octagon", "heart", "star"];
const TEXT_STYLES: &[&str] = &["raised", "engraved"];

impl Template {
    pub const ALL: [Template; 14] = [
        Template::NameTag,
        Template::DoorSign,
        Template::Keychain,
        Template::Vase,
        Template::PencilCup,
        Template::BoxWithLid,
        Template::Gear,
        Template::Coaster,
        Template::CookieCutter,
        Template::PlantPot,
        Template::PhoneStand,
        Template::Dice,
        Template::Bookmark,
        Template::Ruler,
    ];

    /// Short name for people.
    pub fn name(self) -> &'static str {
        match self {
            Template::NameTag => "name tag",
            Template::DoorSign => "door sign",
            Template::Keychain => "keychain",
            Template::Vase => "vase",
            Template::PencilCup => "pencil cup",
            Template::BoxWithLid => "box with lid",
            Template::Gear => "gear",
            Template::Coaster => "coaster",
            Template::CookieCutter => "cookie cutter",
            Template::PlantPot => "plant pot",
            Template::PhoneStand => "phone stand",
            Template::Dice => "dice",
            Template::Bookmark => "bookmark",
            Template::Ruler => "ruler",
        }
    }

    /// Stable identifier (kebab-case, as serialised).
    pub fn id(self) -> &'static str {
        match self {
            Template::NameTag => "name-tag",
            Template::DoorSign => "door-sign",
            Template::Keychain => "keychain",
            Template::Vase => "vase",
            Template::PencilCup => "pencil-cup",
            Template::BoxWithLid => "box-with-lid",
            Template::Gear => "gear",
            Template::Coaster => "coaster",
            Template::CookieCutter => "cookie-cutter",
            Template::PlantPot => "plant-pot",
            Template::PhoneStand => "phone-stand",
            Template::Dice => "dice",
            Template::Bookmark => "bookmark",
            Template::Ruler => "ruler",
        }
    }

    pub fn from_id(s: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.id() == s)
    }

    /// One line a student understands.
    pub fn description(self) -> &'static str {
        match self {
            Template::NameTag => "A small plate with your name on it, and a hole to hang it from.",
            Template::DoorSign => "A big sign for a door, with raised or carved letters and holes for screws.",
            Template::Keychain => "A keyring tag with a name on it and a strong hole for the ring.",
            Template::Vase => "A vase for flowers: round or with flat sides, and it can be twisted.",
            Template::PencilCup => "A cup that holds pens and pencils on your desk.",
            Template::BoxWithLid => "A small box and a lid that fits snugly on top, printed side by side.",
            Template::Gear => "A real gear wheel with teeth that mesh, and a hole for an axle.",
            Template::Coaster => "A flat mat to put your drink on, with a little rim.",
            Template::CookieCutter => "A cutter to press into dough and make shaped cookies.",
            Template::PlantPot => "A pot for a plant, with holes in the bottom so water can drain.",
            Template::PhoneStand => "A stand that holds your phone up at an angle on a table.",
            Template::Dice => "A six-sided dice with dots carved into each face.",
            Template::Bookmark => "A thin bookmark with your name or a word on it.",
            Template::Ruler => "A ruler with centimetre and millimetre marks and numbers.",
        }
    }

    /// Words and phrases that point to this template, with how sure each makes us (0..1).
    pub fn keywords(self) -> &'static [(&'static str, f32)] {
        match self {
            Template::NameTag => &[
                ("name tag", 0.95),
                ("nametag", 0.95),
                ("name badge", 0.95),
                ("name plate", 0.9),
                ("badge", 0.8),
                ("tag", 0.8),
                ("label", 0.8),
                ("name", 0.45),
            ],
            Template::DoorSign => &[
                ("door sign", 0.95),
                ("door plate", 0.95),
                ("door plaque", 0.95),
                ("sign", 0.85),
                ("plaque", 0.85),
                ("signpost", 0.8),
                ("door", 0.5),
            ],
            Template::Keychain => &[
                ("keychain", 0.95),
                ("key chain", 0.95),
                ("keyring", 0.95),
                ("key ring", 0.95),
                ("key fob", 0.95),
                ("fob", 0.8),
                ("keys", 0.6),
                ("key", 0.6),
            ],
            Template::Vase => {
                &[("vase", 0.95), ("flower vase", 0.95), ("flowers", 0.5), ("flower", 0.5), ("vessel", 0.6)]
            }
            Template::PencilCup => &[
                ("pencil cup", 0.95),
                ("pen cup", 0.95),
                ("pencil holder", 0.95),
                ("pen holder", 0.95),
                ("pencil pot", 0.95),
                ("pen pot", 0.95),
                ("desk organiser", 0.9),
                ("desk organizer", 0.9),
                ("cup", 0.8),
                ("mug", 0.7),
                ("pencils", 0.6),
                ("pencil", 0.6),
                ("pens", 0.6),
            ],
            Template::BoxWithLid => &[
                ("box with lid", 0.97),
                ("box with a lid", 0.97),
                ("trinket box", 0.95),
                ("storage box", 0.95),
                ("box", 0.85),
                ("container", 0.8),
                ("case", 0.6),
                ("lid", 0.5),
            ],
            Template::Gear => &[
                ("spur gear", 0.97),
                ("gear", 0.95),
                ("gears", 0.95),
                ("cog", 0.95),
                ("cogwheel", 0.95),
                ("gearwheel", 0.95),
                ("sprocket", 0.8),
                ("teeth", 0.4),
            ],
            Template::Coaster => &[("coaster", 0.95), ("drink mat", 0.95), ("cup mat", 0.9), ("mat", 0.6)],
            Template::CookieCutter => &[
                ("cookie cutter", 0.97),
                ("biscuit cutter", 0.97),
                ("pastry cutter", 0.95),
                ("cutter", 0.9),
                ("cookie", 0.8),
                ("cookies", 0.8),
                ("biscuit", 0.8),
            ],
            Template::PlantPot => &[
                ("plant pot", 0.97),
                ("flower pot", 0.97),
                ("flowerpot", 0.97),
                ("planter", 0.95),
                ("succulent pot", 0.97),
                ("pot", 0.8),
                ("plant", 0.6),
                ("plants", 0.6),
                ("succulent", 0.6),
                ("cactus", 0.6),
            ],
            Template::PhoneStand => &[
                ("phone stand", 0.97),
                ("phone holder", 0.97),
                ("tablet stand", 0.95),
                ("phone dock", 0.95),
                ("stand", 0.7),
                ("phone", 0.6),
            ],
            Template::Dice => &[("dice", 0.95), ("die", 0.9), ("d6", 0.95)],
            Template::Bookmark => &[("bookmark", 0.95), ("book mark", 0.95), ("page marker", 0.9), ("book", 0.5)],
            Template::Ruler => &[("ruler", 0.95), ("measuring stick", 0.9), ("scale bar", 0.7)],
        }
    }

    /// The parameters, for sliders.
    pub fn params(self) -> Vec<ParamSpec> {
        use ParamSpec as P;
        let text_style = || P::choice("text_style", "Letters", TEXT_STYLES, "raised");
        match self {
            Template::NameTag => vec![
                P::text("text", "Name", "Name", 24),
                P::num("width", "Width", "mm", 40.0, 120.0, 70.0, 1.0),
                P::num("height", "Height", "mm", 15.0, 40.0, 25.0, 1.0),
                P::num("thickness", "Thickness", "mm", 1.6, 5.0, 3.0, 0.1),
                P::num("letter_height", "Letter size", "mm", 4.0, 20.0, 10.0, 0.5),
                text_style(),
                P::num("text_depth", "Letters raised/carved by", "mm", 0.4, 2.0, 1.0, 0.1),
                P::toggle("hole", "Hole to hang it", true),
                P::num("hole_diameter", "Hole size", "mm", 3.0, 8.0, 5.0, 0.5),
                P::num("corner_radius", "Round corners", "mm", 0.0, 10.0, 4.0, 0.5),
            ],
            Template::DoorSign => vec![
                P::text("text", "Text", "Room 1", 32),
                P::num("width", "Width", "mm", 80.0, 170.0, 150.0, 1.0),
                P::num("height", "Height", "mm", 40.0, 100.0, 60.0, 1.0),
                P::num("thickness", "Thickness", "mm", 3.0, 6.0, 4.0, 0.1),
                P::num("letter_height", "Letter size", "mm", 8.0, 40.0, 20.0, 0.5),
                text_style(),
                P::num("text_depth", "Letters raised/carved by", "mm", 0.6, 2.5, 1.2, 0.1),
                P::toggle("screw_holes", "Screw holes", true),
                P::num("corner_radius", "Round corners", "mm", 0.0, 15.0, 6.0, 0.5),
            ],
            Template::Keychain => vec![
                P::text("text", "Name", "Leo", 16),
                P::num("length", "Length (at least twice the height)", "mm", 35.0, 90.0, 55.0, 1.0),
                P::num("height", "Height", "mm", 12.0, 30.0, 18.0, 0.5),
                P::num("thickness", "Thickness", "mm", 2.5, 5.0, 3.5, 0.1),
                P::num("letter_height", "Letter size", "mm", 4.0, 15.0, 8.0, 0.5),
                text_style(),
                P::num("text_depth", "Letters raised/carved by", "mm", 0.6, 2.0, 1.0, 0.1),
                P::num("ring_hole", "Ring hole", "mm", 3.0, 6.0, 4.0, 0.5),
            ],
            Template::Vase => vec![
                P::num("height", "Height", "mm", 40.0, 170.0, 120.0, 1.0),
                P::num("diameter", "Widest diameter", "mm", 30.0, 120.0, 80.0, 1.0),
                P::int("sides", "Sides (0 = round)", 0.0, 12.0, 0.0),
                P::num("twist", "Twist", "°", 0.0, 180.0, 0.0, 5.0),
                P::num("bulge", "Belly", "", 0.0, 0.4, 0.25, 0.01),
                P::int("ribs", "Ribs (0 = none)", 0.0, 36.0, 0.0),
                P::num("wall", "Wall", "mm", 1.2, 4.0, 1.6, 0.1),
                P::num("base", "Base", "mm", 1.2, 5.0, 2.0, 0.1),
            ],
            Template::PencilCup => vec![
                P::num("height", "Height", "mm", 60.0, 130.0, 100.0, 1.0),
                P::num("diameter", "Diameter", "mm", 50.0, 100.0, 75.0, 1.0),
                P::int("sides", "Sides (0 = round)", 0.0, 12.0, 6.0),
                P::num("twist", "Twist", "°", 0.0, 180.0, 0.0, 5.0),
                P::int("ribs", "Ribs (0 = none)", 0.0, 36.0, 0.0),
                P::num("wall", "Wall", "mm", 1.6, 4.0, 2.0, 0.1),
                P::num("base", "Base", "mm", 1.6, 5.0, 2.5, 0.1),
            ],
            Template::BoxWithLid => vec![
                P::num("width", "Width", "mm", 20.0, 80.0, 60.0, 1.0),
                P::num("depth", "Depth", "mm", 20.0, 150.0, 50.0, 1.0),
                P::num("height", "Height", "mm", 10.0, 120.0, 40.0, 1.0),
                P::num("wall", "Wall", "mm", 1.6, 4.0, 2.0, 0.1),
                P::num("floor", "Floor and lid", "mm", 1.2, 4.0, 2.0, 0.1),
                P::num("corner_radius", "Round corners", "mm", 0.0, 10.0, 4.0, 0.5),
                P::num("lip", "Lid lip height", "mm", 3.0, 10.0, 6.0, 0.5),
                P::num("clearance", "Lid gap", "mm", 0.1, 0.6, 0.25, 0.05),
            ],
            Template::Gear => vec![
                P::int("teeth", "Teeth", 8.0, 80.0, 20.0),
                P::num("module", "Tooth size (module)", "mm", 0.5, 4.0, 2.0, 0.1),
                P::num("thickness", "Thickness", "mm", 3.0, 20.0, 6.0, 0.5),
                P::num("bore", "Axle hole (0 = none)", "mm", 0.0, 20.0, 5.0, 0.5),
            ],
            Template::Coaster => vec![
                P::choice("shape", "Shape", SHAPES, "round"),
                P::num("diameter", "Size", "mm", 60.0, 120.0, 90.0, 1.0),
                P::num("thickness", "Thickness", "mm", 3.0, 6.0, 4.0, 0.1),
                P::num("rim_height", "Rim height (0 = none)", "mm", 0.0, 3.0, 1.5, 0.1),
                P::num("rim_width", "Rim width", "mm", 2.0, 6.0, 3.0, 0.1),
                P::text("text", "Text (optional)", "", 16),
                P::num("letter_height", "Letter size", "mm", 6.0, 20.0, 10.0, 0.5),
            ],
            Template::CookieCutter => vec![
                P::choice("shape", "Shape", SHAPES, "heart"),
                P::num("size", "Size", "mm", 30.0, 120.0, 70.0, 1.0),
                P::num("height", "Height", "mm", 10.0, 25.0, 15.0, 0.5),
                P::num("blade", "Blade", "mm", 0.8, 1.2, 1.0, 0.05),
                P::num("flange_width", "Rim width", "mm", 2.0, 6.0, 4.0, 0.5),
                P::num("flange_height", "Rim height", "mm", 1.0, 3.0, 2.0, 0.1),
            ],
            Template::PlantPot => vec![
                P::num("height", "Height", "mm", 50.0, 150.0, 90.0, 1.0),
                P::num("diameter", "Top diameter", "mm", 50.0, 150.0, 100.0, 1.0),
                P::num("taper", "Narrower at the bottom", "", 0.0, 0.3, 0.2, 0.01),
                P::int("sides", "Sides (0 = round)", 0.0, 12.0, 0.0),
                P::num("wall", "Wall", "mm", 1.6, 4.0, 2.2, 0.1),
                P::num("base", "Base", "mm", 2.0, 5.0, 3.0, 0.1),
                P::int("drainage_holes", "Drainage holes", 0.0, 8.0, 3.0),
                P::num("hole_diameter", "Drainage hole size", "mm", 3.0, 10.0, 6.0, 0.5),
            ],
            Template::PhoneStand => vec![
                P::num("width", "Width", "mm", 40.0, 100.0, 70.0, 1.0),
                P::num("angle", "Lean angle", "°", 50.0, 80.0, 65.0, 1.0),
                P::num("phone_thickness", "Phone slot", "mm", 6.0, 16.0, 12.0, 0.5),
                P::num("lip_height", "Front lip", "mm", 5.0, 20.0, 10.0, 0.5),
                P::num("thickness", "Thickness", "mm", 4.0, 8.0, 6.0, 0.5),
                P::num("back_length", "Back length", "mm", 60.0, 120.0, 90.0, 1.0),
                P::num("base_length", "Base length", "mm", 60.0, 130.0, 90.0, 1.0),
            ],
            Template::Dice => vec![
                P::num("size", "Size", "mm", 12.0, 30.0, 18.0, 0.5),
                P::num("pip_diameter", "Dot size", "mm", 2.0, 6.0, 3.5, 0.1),
                P::num("pip_depth", "Dot depth", "mm", 0.5, 2.0, 1.0, 0.1),
            ],
            Template::Bookmark => vec![
                P::text("text", "Text", "Read on!", 24),
                P::num("length", "Length", "mm", 100.0, 170.0, 150.0, 1.0),
                P::num("width", "Width", "mm", 25.0, 50.0, 35.0, 1.0),
                P::num("thickness", "Thickness", "mm", 1.0, 2.5, 1.6, 0.1),
                P::num("letter_height", "Letter size", "mm", 5.0, 20.0, 10.0, 0.5),
                P::num("text_depth", "Letters raised by", "mm", 0.4, 1.5, 0.8, 0.1),
                P::toggle("hole", "Hole for a ribbon", true),
                P::num("corner_radius", "Round corners", "mm", 0.0, 8.0, 4.0, 0.5),
            ],
            Template::Ruler => vec![
                P::int("length_cm", "Length", 5.0, 16.0, 15.0),
                P::num("width", "Width", "mm", 20.0, 40.0, 28.0, 1.0),
                P::num("thickness", "Thickness", "mm", 2.0, 4.0, 3.0, 0.1),
                P::toggle("mm_ticks", "Millimetre marks", true),
                P::num("number_height", "Number size", "mm", 3.0, 6.0, 4.0, 0.5),
                P::num("tick_depth", "Marks carved by", "mm", 0.4, 1.2, 0.6, 0.1),
                P::text("text", "Text (optional)", "", 24),
            ],
        }
    }

    /// Does this template put text on the object?
    pub fn has_text(self) -> bool {
        self.params().iter().any(|p| p.key == "text")
    }
}

/// A template ranked for a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateMatch {
    pub template: Template,
    /// 0..1; at or above [`CONFIDENT`] auto mode uses it without asking.
    pub score: f32,
    /// The prompt's numbers, text, shape and styles mapped into this template's parameters
    /// (resolved: defaults filled, values clamped).
    pub params: Params,
}

fn keyword_score(t: Template, p: &ParsedPrompt) -> f32 {
    let best = t.keywords().iter().filter(|(k, _)| p.has_phrase(k)).map(|(_, w)| *w).fold(0.0f32, f32::max);
    if best == 0.0 {
        return 0.0;
    }
    // Supporting clues nudge the score up a little.
    let mut bonus = 0.0f32;
    let mut clue = |c: bool| {
        if c {
            bonus += 0.04;
        }
    };
    match t {
        Template::Gear => {
            clue(p.count("tooth").is_some());
            clue(p.count("module").is_some());
        }
        Template::BoxWithLid => clue(p.flags.lid == Some(true)),
        Template::PlantPot => clue(p.flags.drainage == Some(true)),
        Template::Vase | Template::PencilCup => {
            clue(p.styles.twisted || p.styles.ribbed);
            clue(p.sides().is_some());
        }
        Template::CookieCutter | Template::Coaster => clue(p.shape.is_some()),
        Template::NameTag | Template::DoorSign | Template::Keychain | Template::Bookmark => clue(p.text.is_some()),
        Template::Dice => clue(p.has("pip") || p.has("dots")),
        _ => {}
    }
    (best + bonus).min(1.0)
}

/// The prompt's numbers and words mapped into `t`'s parameters (then resolved).
pub fn params_from_prompt(t: Template, p: &ParsedPrompt) -> Params {
    let mut out = Params::new();
    let keys: Vec<&'static str> = t.params().iter().map(|s| s.key).collect();
    let has = |k: &str| keys.contains(&k);
    if let (Some(text), true) = (&p.text, has("text")) {
        out.set_text("text", text);
    }
    if has("text_style") {
        if p.styles.engraved {
            out.set_text("text_style", "engraved");
        } else if p.styles.raised {
            out.set_text("text_style", "raised");
        }
    }
    if let (Some(s), true) = (p.shape, has("shape")) {
        out.set_text("shape", s.as_str());
    }
    if has("sides") {
        match (p.sides(), p.shape) {
            (Some(n), _) => {
                out.set_number("sides", f64::from(n));
            }
            (None, Some(Shape::Round)) => {
                out.set_number("sides", 0.0);
            }
            _ => {}
        }
    }
    if has("twist") {
        if let Some(a) = p.angles.first() {
            out.set_number("twist", *a);
        } else if p.styles.twisted {
            out.set_number("twist", 90.0);
        } else if p.styles.smooth {
            out.set_number("twist", 0.0);
        }
    }
    if has("ribs") {
        if let Some(n) = p.count("rib") {
            out.set_number("ribs", f64::from(n));
        } else if p.styles.ribbed {
            out.set_number("ribs", 24.0);
        }
    }
    // Lengths: by axis, then the unattributed size to the template's main dimension.
    let main: &str = match t {
        Template::NameTag | Template::DoorSign => "width",
        Template::Keychain | Template::Bookmark => "length",
        Template::Vase | Template::PencilCup | Template::PlantPot => "height",
        Template::BoxWithLid => "width",
        Template::Gear => "",
        Template::Coaster => "diameter",
        Template::CookieCutter | Template::Dice => "size",
        Template::PhoneStand => "width",
        Template::Ruler => "length_cm",
    };
    let axis_key = |a: Axis| -> Option<&'static str> {
        let candidates: &[&'static str] = match a {
            Axis::Height => &["height", "size"],
            Axis::Width => &["width", "diameter", "size", "length"],
            Axis::Depth => &["depth", "width"],
            Axis::Length => &["length", "length_cm", "width", "size"],
            Axis::Diameter => &["diameter", "size", "width"],
            Axis::Thickness => &["thickness"],
        };
        candidates.iter().copied().find(|k| keys.contains(k))
    };
    let set_len = |out: &mut Params, key: &str, mm: f64| {
        if key == "length_cm" {
            out.set_number(key, (mm / 10.0).round());
        } else {
            out.set_number(key, mm);
        }
    };
    for d in &p.dimensions {
        if let Some(a) = d.axis {
            if let Some(k) = axis_key(a) {
                set_len(&mut out, k, d.mm);
            }
        }
    }
    let unattributed: Vec<f64> = p.dimensions.iter().filter(|d| d.axis.is_none()).map(|d| d.mm).collect();
    match t {
        Template::Gear => {
            // "a gear with 20 teeth and a 5 mm hole": a small length is the bore; a larger one the diameter.
            let teeth = p.count("tooth").map(f64::from);
            if let Some(z) = teeth {
                out.set_number("teeth", z);
            }
            if let Some(m) = p.counts.iter().find(|c| c.noun == "module").map(|c| f64::from(c.n)) {
                out.set_number("module", m);
            }
            let explicit_module = p
                .words
                .iter()
                .position(|w| w == "module")
                .and_then(|i| p.words.get(i + 1))
                .and_then(|w| w.parse::<f64>().ok());
            if let Some(m) = explicit_module {
                out.set_number("module", m);
            }
            let hole_said = p.has("hole") || p.has("bore") || p.has("axle") || p.has("shaft");
            for (k, mm) in unattributed.iter().enumerate() {
                if hole_said && (k > 0 || *mm <= 20.0) {
                    out.set_number("bore", *mm);
                } else if let Some(z) = teeth.or(Some(20.0)) {
                    out.set_number("module", mm / (z + 2.0));
                }
            }
            if let Some(d) = p.dimension(Axis::Diameter).or(p.dimension(Axis::Width)) {
                let z = teeth.unwrap_or(20.0);
                out.set_number("module", d / (z + 2.0));
                out.values.remove("diameter");
                out.values.remove("width");
            }
        }
        _ => {
            if let (Some(mm), false) = (unattributed.first(), main.is_empty()) {
                if out.number(main).is_none() {
                    set_len(&mut out, main, *mm);
                }
            }
        }
    }
    match t {
        Template::PlantPot => {
            if let Some(n) = p.count("hole") {
                out.set_number("drainage_holes", f64::from(n));
            } else if p.flags.drainage == Some(false) {
                out.set_number("drainage_holes", 0.0);
            }
        }
        Template::NameTag | Template::Bookmark => {
            if let Some(h) = p.flags.hole {
                out.set_number("hole", if h { 1.0 } else { 0.0 });
            }
        }
        Template::DoorSign => {
            if let Some(h) = p.flags.hole {
                out.set_number("screw_holes", if h { 1.0 } else { 0.0 });
            }
        }
        Template::BoxWithLid => {
            if let Some(h) = p.dimension(Axis::Height) {
                out.set_number("height", h);
            }
        }
        Template::Ruler => {
            if let Some(n) = p.count("cm") {
                out.set_number("length_cm", f64::from(n));
            }
        }
        _ => {}
    }
    out.resolved(t)
}

/// Every template ranked for the prompt, best first (ties in catalogue order). Templates the
/// prompt does not mention score 0; "a dragon" scores 0 everywhere.
pub fn match_prompt(p: &ParsedPrompt) -> Vec<TemplateMatch> {
    let mut out: Vec<TemplateMatch> = Template::ALL
        .into_iter()
        .map(|t| TemplateMatch { template: t, score: keyword_score(t, p), params: params_from_prompt(t, p) })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// How far apart to put the axles of two meshing gears of the same module (mm): the sum of their
/// pitch radii, m·(z₁ + z₂)/2.
pub fn gear_centre_distance(module: f64, teeth_a: u32, teeth_b: u32) -> f64 {
    module * f64::from(teeth_a + teeth_b) / 2.0
}

/// Notes for the user about what the build will leave out (characters missing from the font).
pub fn notices(t: Template, params: &Params) -> Vec<String> {
    let p = params.resolved(t);
    let missing = crate::text::missing_chars(p.txt("text"));
    if missing.is_empty() {
        return Vec::new();
    }
    let list: String =
        missing.iter().collect::<Vec<_>>().iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
    vec![format!(
        "Our font has no {list}, so {} left out. Try the letters A to Z.",
        if missing.len() == 1 { "it is" } else { "they are" }
    )]
}

/// Builds the parts of `t` from `params` (resolved first). Parts are laid out on the plate
/// together: on z = 0, centred on the origin, each checked printable.
pub fn build(t: Template, params: &Params) -> Result<Vec<Part>, ProceduralError> {
    let p = params.resolved(t);
    let mut parts = match t {
        Template::NameTag => plates::name_tag(&p)?,
        Template::DoorSign => plates::door_sign(&p)?,
        Template::Keychain => plates::keychain(&p)?,
        Template::Bookmark => plates::bookmark(&p)?,
        Template::Ruler => plates::ruler(&p)?,
        Template::Coaster => plates::coaster(&p)?,
        Template::Vase => revolve::vase(&p),
        Template::PencilCup => revolve::pencil_cup(&p),
        Template::PlantPot => revolve::plant_pot(&p),
        Template::BoxWithLid => objects::box_with_lid(&p),
        Template::Gear => objects::gear(&p),
        Template::CookieCutter => objects::cookie_cutter(&p)?,
        Template::PhoneStand => objects::phone_stand(&p),
        Template::Dice => objects::dice(&p),
    };
    // Centre the layout on the origin, on the bed.
    let bb = parts.iter().filter_map(|q| q.mesh.bounding_box()).reduce(|a, b| a.union(&b));
    if let Some(bb) = bb {
        let off = [-(bb.min[0] + bb.max[0]) / 2.0, -(bb.min[1] + bb.max[1]) / 2.0, -bb.min[2]];
        for q in &mut parts {
            q.mesh.translate(off);
        }
    }
    for q in &parts {
        let r = mesh::validate::validate(&q.mesh, Some(BED_MM));
        if !r.printable || r.volume_mm3 <= 0.0 {
            return Err(ProceduralError::Internal { template: t.name(), detail: r.reasons.join(" ") });
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::parse;

    fn best(prompt: &str) -> TemplateMatch {
        match_prompt(&parse(prompt)).into_iter().next().expect("some template")
    }

    #[test]
    fn prompts_pick_templates_and_params() {
        let m = best("a name tag for Maya");
        assert_eq!(m.template, Template::NameTag);
        assert!(m.score >= CONFIDENT);
        assert_eq!(m.params.text("text"), Some("Maya"));
        assert_eq!(best("pencil cup").template, Template::PencilCup);
        assert_eq!(best("a pen holder").template, Template::PencilCup);
        assert_eq!(best("a pencil pot").template, Template::PencilCup);
        assert_eq!(best("a planter with drainage").template, Template::PlantPot);
        assert_eq!(best("a cog").template, Template::Gear);
        assert_eq!(best("a die").template, Template::Dice);
        assert_eq!(best("a d6 for board games").template, Template::Dice);
        assert_eq!(best("heart cookie cutter").template, Template::CookieCutter);
        assert_eq!(best("a label that says Science").template, Template::NameTag);
        assert_eq!(best("a sign for my door that says KEEP OUT").template, Template::DoorSign);
        assert_eq!(best("keyring for Leo").template, Template::Keychain);
        assert_eq!(best("a box with a lid").template, Template::BoxWithLid);
        assert_eq!(best("phone stand").template, Template::PhoneStand);
        assert_eq!(best("a bookmark").template, Template::Bookmark);
        assert_eq!(best("a 15 cm ruler").params.number("length_cm"), Some(15.0));

        let g = best("a gear with 20 teeth and a 5 mm hole");
        assert_eq!(g.template, Template::Gear);
        assert_eq!(g.params.number("teeth"), Some(20.0));
        assert_eq!(g.params.number("bore"), Some(5.0));

        let v = best("a 10 cm twisted vase with 6 sides");
        assert_eq!(v.template, Template::Vase);
        assert_eq!(v.params.number("height"), Some(100.0));
        assert_eq!(v.params.number("sides"), Some(6.0));
        assert!(v.params.number("twist").unwrap() > 0.0);

        let c = best("a hexagonal coaster 10 cm across with engraved text \"Tea\"");
        assert_eq!(c.template, Template::Coaster);
        assert_eq!(c.params.text("shape"), Some("hexagon"));
        assert_eq!(c.params.number("diameter"), Some(100.0));
        assert_eq!(c.params.text("text"), Some("Tea"));

        let b = best("a box 60 x 40 x 30 mm with lid");
        assert_eq!(
            (b.params.number("width"), b.params.number("depth"), b.params.number("height")),
            (Some(60.0), Some(40.0), Some(30.0))
        );
    }

    #[test]
    fn unrelated_prompts_are_not_confident() {
        for prompt in ["a dragon", "a spaceship flying over the moon", "", "🦄", "a cute cat"] {
            let m = match_prompt(&parse(prompt));
            assert_eq!(m.len(), Template::ALL.len());
            assert!(m.iter().all(|x| x.score < CONFIDENT), "{prompt}: {:?}", m[0]);
        }
        assert!(match_prompt(&parse("a dragon"))[0].score < 0.2);
    }

    #[test]
    fn params_resolve_and_clamp() {
        let p = Params::new().with_number("teeth", 1000.0).with_text("bore", "wide").with_number("module", f64::NAN);
        let r = p.resolved(Template::Gear);
        assert_eq!(r.number("teeth"), Some(80.0));
        assert_eq!(r.number("bore"), Some(5.0));
        assert_eq!(r.number("module"), Some(2.0));
        assert_eq!(r.values.len(), Template::Gear.params().len());
        let s = Params::new().with_text("shape", "HEART").with_text("text", "a\u{7}b").resolved(Template::Coaster);
        assert_eq!(s.text("shape"), Some("heart"));
        assert_eq!(s.text("text"), Some("ab"));
        for t in Template::ALL {
            assert!(!t.description().is_empty() && !t.keywords().is_empty() && !t.params().is_empty());
            assert_eq!(Template::from_id(t.id()), Some(t));
        }
    }

    #[test]
    fn every_template_builds_at_defaults() {
        for t in Template::ALL {
            let parts = build(t, &Params::new()).unwrap_or_else(|e| panic!("{t:?}: {e}"));
            assert!(!parts.is_empty());
        }
    }

    #[test]
    fn paired_gears_centre_distance() {
        assert_eq!(gear_centre_distance(2.0, 20, 40), 60.0);
        assert_eq!(gear_centre_distance(1.5, 12, 13), 18.75);
    }

    #[test]
    fn notices_name_missing_letters() {
        let n = notices(Template::NameTag, &Params::new().with_text("text", "Mia 猫"));
        assert_eq!(n.len(), 1);
        assert!(n[0].contains('猫'));
        assert!(notices(Template::NameTag, &Params::new().with_text("text", "Mia")).is_empty());
    }
}
