//! # genai — text to printable 3D
//!
//! "Type what you want, get something you can print", in two tiers that end in one output path:
//!
//! - [`prompt`]: reads a prompt — numbers, units, quoted names, counts, shapes, styles.
//! - [`procedural`]: parametric templates (name tag, vase, gear, box with lid, …) that build exact,
//!   watertight meshes in milliseconds; every box has this tier.
//! - [`text`]: the bundled font, glyph outlines flattened into polygons for raised or engraved text.
//! - [`shap_e`]: OpenAI's Shap-E `text300M` ported to candle — CLIP text tower and tokenizer, the
//!   denoiser, the Karras/Heun sampler with classifier-free guidance, the implicit-MLP decoder.
//! - [`modelpack`]: installing, verifying, activating and rolling back the weights of tier 1.
//! - [`finish`]: the shared output path — orient, scale, base, voxel cleanup, minimum wall, decimate,
//!   validate, export (3MF/STL/GLB) and thumbnail.
//! - [`engine`]: picks a tier for a request and runs it with progress and cancellation.

pub mod engine;
pub mod finish;
pub mod modelpack;
pub mod procedural;
pub mod prompt;
pub mod shap_e;
pub mod text;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How much time and memory a generation may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Low,
    #[default]
    Medium,
    High,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        }
    }
}

impl std::str::FromStr for Quality {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" | "draft" => Ok(Quality::Low),
            "medium" | "normal" => Ok(Quality::Medium),
            "high" | "fine" => Ok(Quality::High),
            other => Err(format!("unknown quality '{other}': use low, medium or high")),
        }
    }
}

/// Which generator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Procedural when a template matches well, else Shap-E when installed, else the closest template.
    #[default]
    Auto,
    Procedural,
    ShapE,
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Tier::Auto),
            "procedural" => Ok(Tier::Procedural),
            "shap-e" | "shape" | "shap_e" => Ok(Tier::ShapE),
            other => Err(format!("unknown tier '{other}': use auto, procedural or shap-e")),
        }
    }
}

/// A user's request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    prompt: String,
    pub quality: Quality,
    pub seed: u64,
    pub tier: Tier,
    /// Largest dimension of the result in millimetres; `None` means the template's own size (procedural)
    /// or [`DEFAULT_SIZE_MM`] (Shap-E).
    pub size_mm: Option<f32>,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("the prompt is empty: type what you would like to print")]
    EmptyPrompt,
    #[error("the prompt is {0} characters long; please keep it under {MAX_PROMPT_CHARS}")]
    PromptTooLong(usize),
    #[error("a size of {0} mm cannot be printed; choose between 5 and 300 mm")]
    BadSize(f32),
}

/// Prompts longer than this are refused: CLIP sees only 77 tokens anyway.
pub const MAX_PROMPT_CHARS: usize = 300;
/// Size of a Shap-E object's largest dimension when the prompt names none.
pub const DEFAULT_SIZE_MM: f32 = 60.0;

impl GenerationRequest {
    /// Trims the prompt, collapses whitespace runs and checks its length.
    pub fn new(prompt: &str, quality: Quality, seed: u64) -> Result<Self, RequestError> {
        let prompt = normalise_prompt(prompt);
        match prompt.chars().count() {
            0 => Err(RequestError::EmptyPrompt),
            n if n > MAX_PROMPT_CHARS => Err(RequestError::PromptTooLong(n)),
            _ => Ok(Self { prompt, quality, seed, tier: Tier::Auto, size_mm: None }),
        }
    }

    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    pub fn with_size(mut self, size_mm: Option<f32>) -> Result<Self, RequestError> {
        if let Some(s) = size_mm {
            if !(5.0..=300.0).contains(&s) {
                return Err(RequestError::BadSize(s));
            }
        }
        self.size_mm = size_mm;
        Ok(self)
    }

    pub fn prompt(&self) -> &str {
        &self.prompt
    }
}

/// Whitespace runs collapsed to one space, trimmed: the form prompts are compared and cached in.
pub fn normalise_prompt(prompt: &str) -> String {
    prompt.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How far a generation has got, for progress bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// What is happening, in words ("denoising", "building the mesh").
    pub stage: &'static str,
    pub step: u32,
    pub total: u32,
}

/// Cooperative cancellation shared between a requester and the worker running its request.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_normalised_and_bounded() {
        let r = GenerationRequest::new("  a   name tag\nfor Maya ", Quality::Low, 7).unwrap();
        assert_eq!(r.prompt(), "a name tag for Maya");
        assert_eq!(GenerationRequest::new(" \t", Quality::Low, 0), Err(RequestError::EmptyPrompt));
        let long = "x".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            GenerationRequest::new(&long, Quality::High, 0),
            Err(RequestError::PromptTooLong(MAX_PROMPT_CHARS + 1))
        );
        assert!(r.clone().with_size(Some(2.0)).is_err());
        assert_eq!(r.with_size(Some(40.0)).unwrap().size_mm, Some(40.0));
    }

    #[test]
    fn names_parse() {
        assert_eq!("fine".parse::<Quality>(), Ok(Quality::High));
        assert_eq!("shap-e".parse::<Tier>(), Ok(Tier::ShapE));
        assert!("huge".parse::<Quality>().is_err());
    }
}
