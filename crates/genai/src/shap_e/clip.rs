//! The CLIP text tower with projection (ViT-L/14 at full size): token + position embeddings, pre-LN
//! transformer blocks with a causal mask and QuickGELU, final LayerNorm, the hidden state at the
//! end-of-text token (argmax of the ids) through `text_projection`. Tensor names are Hugging Face
//! `CLIPTextModelWithProjection`'s.

use candle_core::{DType, Device, Module, Tensor, D};

use super::layers::{layer_norm, linear_shapes, norm_shapes, Linear};
use super::{ShapEError, Weights};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub context_length: usize,
    pub width: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub projection_dim: usize,
    pub layer_norm_eps: f64,
}

impl ClipConfig {
    /// OpenAI CLIP ViT-L/14's text tower.
    pub fn vit_l14() -> Self {
        Self {
            vocab_size: 49408,
            context_length: 77,
            width: 768,
            intermediate: 3072,
            layers: 12,
            heads: 12,
            projection_dim: 768,
            layer_norm_eps: 1e-5,
        }
    }

    /// The fixtures' tiny tower (its vocabulary is `tests/fixtures/shap_e/tiny_bpe.txt`: 512 + 100 + 2).
    pub fn tiny() -> Self {
        Self {
            vocab_size: 614,
            context_length: 16,
            width: 32,
            intermediate: 37,
            layers: 2,
            heads: 4,
            projection_dim: 24,
            layer_norm_eps: 1e-5,
        }
    }
}

struct ClipLayer {
    ln1: candle_nn::LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    ln2: candle_nn::LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

pub struct ClipTextModel {
    cfg: ClipConfig,
    token_embedding: Tensor,
    position_embedding: Tensor,
    layers: Vec<ClipLayer>,
    final_ln: candle_nn::LayerNorm,
    projection: Linear,
}

/// Names and shapes of the tensors of a tower of configuration `c`.
pub fn tensor_shapes(c: &ClipConfig) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![
        ("text_model.embeddings.token_embedding.weight".to_string(), vec![c.vocab_size, c.width]),
        ("text_model.embeddings.position_embedding.weight".to_string(), vec![c.context_length, c.width]),
    ];
    for i in 0..c.layers {
        let p = format!("text_model.encoder.layers.{i}");
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            linear_shapes(&mut out, &format!("{p}.self_attn.{n}"), c.width, c.width, true);
        }
        norm_shapes(&mut out, &format!("{p}.layer_norm1"), c.width);
        linear_shapes(&mut out, &format!("{p}.mlp.fc1"), c.width, c.intermediate, true);
        linear_shapes(&mut out, &format!("{p}.mlp.fc2"), c.intermediate, c.width, true);
        norm_shapes(&mut out, &format!("{p}.layer_norm2"), c.width);
    }
    norm_shapes(&mut out, "text_model.final_layer_norm", c.width);
    linear_shapes(&mut out, "text_projection", c.width, c.projection_dim, false);
    out
}

impl ClipTextModel {
    pub fn load(w: &Weights, cfg: &ClipConfig) -> Result<Self, ShapEError> {
        let (d, eps) = (cfg.width, cfg.layer_norm_eps);
        let token_embedding = w.get("text_model.embeddings.token_embedding.weight", &[cfg.vocab_size, d])?;
        let position_embedding = w.get("text_model.embeddings.position_embedding.weight", &[cfg.context_length, d])?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("text_model.encoder.layers.{i}");
            let lin = |n: &str, a, b| Linear::load(w, &format!("{p}.{n}"), a, b, true);
            layers.push(ClipLayer {
                ln1: layer_norm(w, &format!("{p}.layer_norm1"), d, eps)?,
                q: lin("self_attn.q_proj", d, d)?,
                k: lin("self_attn.k_proj", d, d)?,
                v: lin("self_attn.v_proj", d, d)?,
                out: lin("self_attn.out_proj", d, d)?,
                ln2: layer_norm(w, &format!("{p}.layer_norm2"), d, eps)?,
                fc1: lin("mlp.fc1", d, cfg.intermediate)?,
                fc2: lin("mlp.fc2", cfg.intermediate, d)?,
            });
        }
        Ok(Self {
            cfg: cfg.clone(),
            token_embedding,
            position_embedding,
            layers,
            final_ln: layer_norm(w, "text_model.final_layer_norm", d, eps)?,
            projection: Linear::load(w, "text_projection", d, cfg.projection_dim, false)?,
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.cfg
    }

    fn device(&self) -> &Device {
        self.token_embedding.device()
    }

    /// Projected pooled features `[prompts, projection_dim]` (not normalised) of token id rows.
    ///
    /// Rows are zero-padded to the longest one; the causal mask makes positions after the end token
    /// irrelevant to the pooled state, so nothing is computed past it.
    pub fn forward(&self, ids: &[Vec<u32>]) -> Result<Tensor, ShapEError> {
        let c = &self.cfg;
        let b = ids.len();
        let len = ids.iter().map(|r| r.len()).max().unwrap_or(0);
        if b == 0 || len == 0 || len > c.context_length {
            return Err(ShapEError::BadInput(format!("token rows must hold 1 to {} ids", c.context_length)));
        }
        if let Some(bad) = ids.iter().flatten().find(|&&i| i as usize >= c.vocab_size) {
            return Err(ShapEError::BadInput(format!("token id {bad} is outside the vocabulary")));
        }
        let mut flat = vec![0u32; b * len];
        let mut pool = Vec::with_capacity(b);
        for (r, row) in ids.iter().enumerate() {
            flat[r * len..r * len + row.len()].copy_from_slice(row);
            // argmax, first maximum (the end-of-text token has the largest id).
            let max = row.iter().copied().max().unwrap_or(0);
            pool.push((r * len + row.iter().position(|&x| x == max).unwrap_or(0)) as u32);
        }
        let dev = self.device().clone();
        let idx = Tensor::from_vec(flat, b * len, &dev)?;
        let tok = self.token_embedding.index_select(&idx, 0)?.reshape((b, len, c.width))?;
        let pos = self.position_embedding.narrow(0, 0, len)?;
        let mut x = tok.broadcast_add(&pos)?;
        let mask: Vec<f32> =
            (0..len).flat_map(|i| (0..len).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (len, len), &dev)?.to_dtype(x.dtype())?;
        let (h, hd) = (c.heads, c.width / c.heads);
        let scale = 1.0 / (hd as f64).sqrt();
        for l in &self.layers {
            let y = l.ln1.forward(&x)?;
            let split = |t: Tensor| t.reshape((b, len, h, hd))?.transpose(1, 2)?.contiguous();
            let q = split((l.q.forward(&y)? * scale)?)?;
            let k = split(l.k.forward(&y)?)?;
            let v = split(l.v.forward(&y)?)?;
            let att = q.matmul(&k.t()?)?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax_last_dim(&att.to_dtype(DType::F32)?)?.to_dtype(v.dtype())?;
            let o = att.matmul(&v)?.transpose(1, 2)?.reshape((b, len, c.width))?;
            x = (x + l.out.forward(&o)?)?;
            let y = l.ln2.forward(&x)?;
            let y = l.fc1.forward(&y)?;
            let y = (&y * candle_nn::ops::sigmoid(&(&y * 1.702)?)?)?; // QuickGELU
            x = (x + l.fc2.forward(&y)?)?;
        }
        let x = self.final_ln.forward(&x)?.reshape((b * len, c.width))?;
        let pooled = x.index_select(&Tensor::from_vec(pool, b, &dev)?, 0)?;
        Ok(self.projection.forward(&pooled)?)
    }

    /// Shap-E's conditioning: the projected features divided by their L2 norm.
    pub fn embed_normalised(&self, ids: &[Vec<u32>]) -> Result<Tensor, ShapEError> {
        let f = self.forward(ids)?.to_dtype(DType::F32)?;
        let norm = f.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(f.broadcast_div(&norm)?)
    }
}
