//! Shap-E's latent denoiser (`SplitVectorDiffusion(CLIPImagePointDiffusionTransformer)` upstream):
//! the latent is viewed as `n_ctx` tokens of `channels`, projected to `width`, given a learned
//! position embedding, and preceded by two tokens — the projected CLIP embedding (times √clip_dim)
//! and the embedded timestep. A pre-LN transformer follows; the first `channels` outputs of each
//! latent token are the x₀ prediction (the rest, the learned variance, is unused by Karras sampling).
//!
//! The fused `c_qkv` projection is laid out per head as `[q_h | k_h | v_h]`. Upstream scales q and k
//! each by head_dim^-¼; here q·kᵀ is scaled by head_dim^-½ inside the softmax, the same product.

use candle_core::{DType, Device, Module, Tensor};

use super::kernels::{gelu_erf, softmax_scaled_last_dim};
use super::layers::{layer_norm, linear_shapes, norm_shapes, Linear};
use super::{ShapEError, Weights};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DenoiserConfig {
    /// Latent tokens.
    pub n_ctx: usize,
    /// Latent channels per token (the model outputs twice as many).
    pub channels: usize,
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    /// Length of the CLIP embedding it is conditioned on.
    pub clip_dim: usize,
}

impl DenoiserConfig {
    pub fn text300m() -> Self {
        Self { n_ctx: 1024, channels: 1024, width: 1024, layers: 24, heads: 16, clip_dim: 768 }
    }

    pub fn tiny() -> Self {
        Self { n_ctx: 32, channels: 16, width: 32, layers: 2, heads: 2, clip_dim: 24 }
    }

    /// Numbers in one latent.
    pub fn latent_len(&self) -> usize {
        self.n_ctx * self.channels
    }
}

const LN_EPS: f64 = 1e-5;
/// Attention heads computed together on the CPU (see `Denoiser::attention`).
pub const CPU_HEAD_CHUNK: usize = 4;

struct Block {
    ln_1: candle_nn::LayerNorm,
    c_qkv: Linear,
    c_proj: Linear,
    ln_2: candle_nn::LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
}

pub struct Denoiser {
    cfg: DenoiserConfig,
    time_fc: Linear,
    time_proj: Linear,
    clip_embed: Linear,
    input_proj: Linear,
    pos_emb: Tensor,
    ln_pre: candle_nn::LayerNorm,
    blocks: Vec<Block>,
    ln_post: candle_nn::LayerNorm,
    output_proj: Linear,
}

/// Names and shapes of the tensors of a denoiser of configuration `c` (upstream `text_cond.pt`).
pub fn tensor_shapes(c: &DenoiserConfig) -> Vec<(String, Vec<usize>)> {
    let w = c.width;
    let mut out = Vec::new();
    linear_shapes(&mut out, "wrapped.time_embed.c_fc", w, 4 * w, true);
    linear_shapes(&mut out, "wrapped.time_embed.c_proj", 4 * w, w, true);
    norm_shapes(&mut out, "wrapped.ln_pre", w);
    for i in 0..c.layers {
        let p = format!("wrapped.backbone.resblocks.{i}");
        linear_shapes(&mut out, &format!("{p}.attn.c_qkv"), w, 3 * w, true);
        linear_shapes(&mut out, &format!("{p}.attn.c_proj"), w, w, true);
        norm_shapes(&mut out, &format!("{p}.ln_1"), w);
        linear_shapes(&mut out, &format!("{p}.mlp.c_fc"), w, 4 * w, true);
        linear_shapes(&mut out, &format!("{p}.mlp.c_proj"), 4 * w, w, true);
        norm_shapes(&mut out, &format!("{p}.ln_2"), w);
    }
    norm_shapes(&mut out, "wrapped.ln_post", w);
    linear_shapes(&mut out, "wrapped.input_proj", c.channels, w, true);
    linear_shapes(&mut out, "wrapped.output_proj", w, 2 * c.channels, true);
    linear_shapes(&mut out, "wrapped.clip_embed", c.clip_dim, w, true);
    out.push(("wrapped.pos_emb".to_string(), vec![c.n_ctx, w]));
    out
}

/// Sinusoidal embedding of integer timesteps, `[cos | sin]`, max period 10⁴, `[B, dim]` in f32.
/// Each value is rounded once from f64, i.e. what a correctly rounded f32 `exp`/`cos`/`sin` gives
/// on the f32 arguments PyTorch forms.
pub fn timestep_embedding(ts: &[u32], dim: usize, device: &Device) -> candle_core::Result<Tensor> {
    let half = dim / 2;
    let c = -(10000f64.ln() as f32);
    let freqs: Vec<f32> = (0..half).map(|i| (f64::from((c * i as f32) / half as f32)).exp() as f32).collect();
    let mut out = Vec::with_capacity(ts.len() * dim);
    for &t in ts {
        let args: Vec<f64> = freqs.iter().map(|f| f64::from(t as f32 * f)).collect();
        out.extend(args.iter().map(|a| a.cos() as f32));
        out.extend(args.iter().map(|a| a.sin() as f32));
        out.extend(std::iter::repeat_n(0f32, dim - 2 * half));
    }
    Tensor::from_vec(out, (ts.len(), dim), device)
}

impl Denoiser {
    pub fn load(w: &Weights, cfg: &DenoiserConfig) -> Result<Self, ShapEError> {
        let d = cfg.width;
        let lin = |n: &str, a, b| Linear::load(w, n, a, b, true);
        let mut blocks = Vec::with_capacity(cfg.layers);
        for i in 0..cfg.layers {
            let p = format!("wrapped.backbone.resblocks.{i}");
            blocks.push(Block {
                ln_1: layer_norm(w, &format!("{p}.ln_1"), d, LN_EPS)?,
                c_qkv: lin(&format!("{p}.attn.c_qkv"), d, 3 * d)?,
                c_proj: lin(&format!("{p}.attn.c_proj"), d, d)?,
                ln_2: layer_norm(w, &format!("{p}.ln_2"), d, LN_EPS)?,
                c_fc: lin(&format!("{p}.mlp.c_fc"), d, 4 * d)?,
                mlp_proj: lin(&format!("{p}.mlp.c_proj"), 4 * d, d)?,
            });
        }
        Ok(Self {
            cfg: cfg.clone(),
            time_fc: lin("wrapped.time_embed.c_fc", d, 4 * d)?,
            time_proj: lin("wrapped.time_embed.c_proj", 4 * d, d)?,
            clip_embed: lin("wrapped.clip_embed", cfg.clip_dim, d)?,
            input_proj: lin("wrapped.input_proj", cfg.channels, d)?,
            pos_emb: w.get("wrapped.pos_emb", &[cfg.n_ctx, d])?,
            ln_pre: layer_norm(w, "wrapped.ln_pre", d, LN_EPS)?,
            blocks,
            ln_post: layer_norm(w, "wrapped.ln_post", d, LN_EPS)?,
            output_proj: lin("wrapped.output_proj", d, 2 * cfg.channels)?,
        })
    }

    pub fn config(&self) -> &DenoiserConfig {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        self.pos_emb.device()
    }

    pub fn dtype(&self) -> DType {
        self.pos_emb.dtype()
    }

    /// One attention sub-block on `[B, T, width]` (already normalised).
    ///
    /// Computed per batch row and, on the CPU, per group of [`CPU_HEAD_CHUNK`] heads: a row's result
    /// never depends on its batch company, and a full-size score block stays at ~17 MB — under
    /// glibc's 32 MB mmap ceiling, so it is reused from the heap instead of being page-faulted
    /// afresh (which cost more than the softmax itself in a VM).
    fn attention(&self, blk: &Block, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t, w) = x.dims3()?;
        let (h, hd) = (self.cfg.heads, w / self.cfg.heads);
        let scale = 1.0 / (hd as f64).sqrt();
        let chunk = if x.device().is_cpu() { CPU_HEAD_CHUNK.min(h) } else { h };
        // [B, heads, T, 3·hd]: the per-head [q | k | v] layout of c_qkv.
        let qkv = blk.c_qkv.forward(x)?.reshape((b, t, h, 3 * hd))?.transpose(1, 2)?.contiguous()?;
        let mut outs = Vec::with_capacity(b * h.div_ceil(chunk));
        for row in 0..b {
            let r = qkv.get(row)?;
            for h0 in (0..h).step_by(chunk) {
                let part = r.narrow(0, h0, chunk.min(h - h0))?;
                let q = part.narrow(2, 0, hd)?.contiguous()?;
                let k = part.narrow(2, hd, hd)?.contiguous()?;
                let v = part.narrow(2, 2 * hd, hd)?.contiguous()?;
                // The 1/√hd scale (upstream: hd^-¼ on q and on k) is applied inside the softmax.
                let att = softmax_scaled_last_dim(&q.matmul(&k.t()?)?, scale)?.to_dtype(v.dtype())?;
                outs.push(att.matmul(&v)?);
            }
        }
        let o = Tensor::cat(&outs, 0)?.reshape((b, h, t, hd))?.transpose(1, 2)?.reshape((b, t, w))?;
        blk.c_proj.forward(&o)
    }

    /// The MLP sub-block, one batch row at a time (bounded temporaries, row-independent results).
    fn mlp(&self, blk: &Block, x: &Tensor) -> candle_core::Result<Tensor> {
        let rows = (0..x.dims()[0])
            .map(|i| blk.mlp_proj.forward(&gelu_erf(&blk.c_fc.forward(&x.narrow(0, i, 1)?)?)?))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::cat(&rows, 0)
    }

    /// Raw model output `[B, n_ctx, 2·channels]` for latents `x` (`[B, n_ctx·channels]`), integer
    /// timesteps `ts` (one per row) and unit CLIP embeddings `emb` (`[B, clip_dim]`; zeros for the
    /// unconditional branch).
    pub fn forward_raw(&self, x: &Tensor, ts: &[u32], emb: &Tensor) -> Result<Tensor, ShapEError> {
        let c = &self.cfg;
        let b = x.dims()[0];
        if x.elem_count() != b * c.latent_len() || ts.len() != b || emb.dims() != [b, c.clip_dim] {
            return Err(ShapEError::BadInput(format!(
                "denoiser input must be [B, {}] with B timesteps and [B, {}] embeddings; got {:?}, {} timesteps, {:?}",
                c.latent_len(),
                c.clip_dim,
                x.dims(),
                ts.len(),
                emb.dims()
            )));
        }
        let dt = self.dtype();
        let x = x.to_dtype(dt)?.reshape((b, c.n_ctx, c.channels))?;
        let h = self.input_proj.forward(&x)?.broadcast_add(&self.pos_emb)?;
        // [B, 1, ·]: one product per row (see `Linear::forward`).
        let temb = timestep_embedding(ts, c.width, self.device())?.to_dtype(dt)?.unsqueeze(1)?;
        let temb = self.time_proj.forward(&gelu_erf(&self.time_fc.forward(&temb)?)?)?;
        let cemb = (emb.to_dtype(dt)? * (c.clip_dim as f64).sqrt())?.unsqueeze(1)?;
        let cemb = self.clip_embed.forward(&cemb)?;
        let mut h = Tensor::cat(&[cemb, temb, h], 1)?;
        h = self.ln_pre.forward(&h)?;
        for blk in &self.blocks {
            h = (&h + self.attention(blk, &blk.ln_1.forward(&h)?)?)?;
            h = (&h + self.mlp(blk, &blk.ln_2.forward(&h)?)?)?;
        }
        let h = self.ln_post.forward(&h)?.narrow(1, 2, c.n_ctx)?;
        Ok(self.output_proj.forward(&h)?)
    }

    /// The x₀ prediction `[B, n_ctx·channels]` (token-major), in f32, not clamped.
    pub fn forward(&self, x: &Tensor, ts: &[u32], emb: &Tensor) -> Result<Tensor, ShapEError> {
        let out = self.forward_raw(x, ts, emb)?;
        let b = out.dims()[0];
        Ok(out.narrow(2, 0, self.cfg.channels)?.to_dtype(DType::F32)?.reshape((b, self.cfg.latent_len()))?)
    }
}
