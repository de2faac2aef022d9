//! # genai — text to printable 3D
//!
//! Two tiers share one output path (a closed [`mesh::IndexedMesh`]):
//! Shap-E ported to candle where weights and a GPU are present, and a procedural generator so a box
//! without weights still serves. Both arrive with issue #7; this crate currently holds the request
//! type the server queues.

/// How much time and memory a generation may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    Low,
    #[default]
    Medium,
    High,
}

/// A user's request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    prompt: String,
    pub quality: Quality,
    pub seed: u64,
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GenerationError {
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("the prompt is {0} characters long; the limit is {MAX_PROMPT_CHARS}")]
    PromptTooLong(usize),
}

/// Prompts longer than this are refused: CLIP sees only 77 tokens anyway.
pub const MAX_PROMPT_CHARS: usize = 300;

impl GenerationRequest {
    /// Trims the prompt, collapses whitespace runs and checks its length.
    pub fn new(prompt: &str, quality: Quality, seed: u64) -> Result<Self, GenerationError> {
        let prompt = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
        match prompt.chars().count() {
            0 => Err(GenerationError::EmptyPrompt),
            n if n > MAX_PROMPT_CHARS => Err(GenerationError::PromptTooLong(n)),
            _ => Ok(Self { prompt, quality, seed }),
        }
    }

    pub fn prompt(&self) -> &str {
        &self.prompt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_normalised_and_bounded() {
        let r = GenerationRequest::new("  a   name tag\nfor Maya ", Quality::Low, 7).unwrap();
        assert_eq!(r.prompt(), "a name tag for Maya");
        assert_eq!(GenerationRequest::new(" \t", Quality::Low, 0), Err(GenerationError::EmptyPrompt));
        let long = "x".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            GenerationRequest::new(&long, Quality::High, 0),
            Err(GenerationError::PromptTooLong(MAX_PROMPT_CHARS + 1))
        );
    }
}
