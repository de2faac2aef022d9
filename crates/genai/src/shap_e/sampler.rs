//! The diffusion side of Shap-E: the `exp` noise schedule, Karras sigmas, the σ → timestep map of
//! `GaussianToKarrasDenoiser`, and k-diffusion's deterministic Heun sampler (`s_churn = 0`) with
//! classifier-free guidance — all as upstream `shap_e/diffusion/{gaussian_diffusion,k_diffusion}.py`.
//!
//! Arithmetic follows the reference's dtypes: the schedule is f64 (NumPy), sigmas, ᾱ(σ) and the
//! sampler state are f32 (PyTorch), the σ → t interpolation is f64 and truncates to an integer.
//!
//! Batching: up to [`MAX_BATCH`] prompts share one loop (2 × rows per model call with guidance).
//! Each row's x_T comes from its own seeded generator ([`initial_noise`]), and every per-row
//! operation is row-independent, so a row's result does not depend on its batch company. A row
//! whose cancel token is set is dropped before the next model call and returned as `None`.

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};

use super::denoiser::Denoiser;
use super::{Latent, ShapEError};
use crate::{CancelToken, Quality};

/// Most prompts one sampler loop takes.
pub const MAX_BATCH: usize = 4;

/// How to sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplerSettings {
    /// Karras steps; the loop makes `2·steps − 1` model calls.
    pub steps: usize,
    /// Classifier-free guidance scale (0 or 1: unguided, one branch).
    pub guidance: f32,
    pub sigma_min: f32,
    pub sigma_max: f32,
    pub rho: f32,
    /// Clamp each branch's x₀ to [-1, 1] before guidance mixing.
    pub clip_denoised: bool,
    /// Decoder grid samples per axis.
    pub grid_size: usize,
}

impl SamplerSettings {
    /// Low: 16 steps, 64³ grid; medium: 32 steps, 96³; high: upstream's 64 steps, 128³.
    pub fn for_quality(q: Quality) -> Self {
        let (steps, grid_size) = match q {
            Quality::Low => (16, 64),
            Quality::Medium => (32, 96),
            Quality::High => (64, 128),
        };
        Self { steps, guidance: 15.0, sigma_min: 1e-3, sigma_max: 160.0, rho: 7.0, clip_denoised: true, grid_size }
    }

    /// Whether each call runs a conditional and an unconditional branch.
    pub fn guided(&self) -> bool {
        self.guidance != 0.0 && self.guidance != 1.0
    }

    /// Model calls one run makes.
    pub fn total_calls(&self) -> usize {
        (2 * self.steps).saturating_sub(1)
    }
}

impl Default for SamplerSettings {
    fn default() -> Self {
        Self::for_quality(Quality::Medium)
    }
}

/// What the progress callback sees after each model call.
pub struct StepView<'a> {
    /// 1-based index of the call just made.
    pub call: usize,
    pub total_calls: usize,
    /// σ of the call.
    pub sigma: f32,
    /// Original indices (into the prompts) of the rows still live, in `x0` row order.
    pub rows: &'a [usize],
    /// Guided x₀ prediction of each live row, `[rows, latent_len]`, f32.
    pub x0: &'a Tensor,
}

impl StepView<'_> {
    /// The current x₀ of prompt `row`, if it is still live (e.g. to decode a coarse preview).
    pub fn latent(&self, row: usize) -> Option<Latent> {
        let i = self.rows.iter().position(|&r| r == row)?;
        self.x0.get(i).ok().map(Latent)
    }
}

/// ᾱ_t of upstream's `exp` schedule (`betas_for_alpha_bar` with ᾱ(t) = e^(−12t), β ≤ 0.999), f64.
pub fn alphas_cumprod(timesteps: usize) -> Vec<f64> {
    let alpha_bar = |t: f64| (t * -12.0).exp();
    let n = timesteps as f64;
    let mut acc = 1.0f64;
    (0..timesteps)
        .map(|i| {
            let beta = (1.0 - alpha_bar((i + 1) as f64 / n) / alpha_bar(i as f64 / n)).min(0.999);
            acc *= 1.0 - beta;
            acc
        })
        .collect()
}

/// `steps` Karras sigmas from σ_max down to σ_min, then a 0, in f32 as `get_sigmas_karras` makes
/// them (the ramp follows `torch.linspace`, which fills its second half from the end).
pub fn karras_sigmas(steps: usize, sigma_min: f32, sigma_max: f32, rho: f32) -> Vec<f32> {
    let rho64 = f64::from(rho);
    let min_inv = f64::from(sigma_min).powf(1.0 / rho64);
    let max_inv = f64::from(sigma_max).powf(1.0 / rho64);
    let (lo, span) = (max_inv as f32, (min_inv - max_inv) as f32);
    let mut out: Vec<f32> = (0..steps)
        .map(|i| {
            // torch.linspace: `start + step·i` below the middle, `end − step·(n−1−i)` (fused, one
            // rounding) from it on, with an f32 step.
            let ramp = if steps == 1 {
                0.0
            } else {
                let step = 1.0f32 / (steps - 1) as f32;
                if i < steps / 2 {
                    step * i as f32
                } else {
                    (1.0 - f64::from(step) * (steps - 1 - i) as f64) as f32
                }
            };
            (f64::from(lo + ramp * span)).powf(rho64) as f32
        })
        .collect();
    out.push(0.0);
    out
}

/// Maps σ to an integer timestep as `GaussianToKarrasDenoiser.sigma_to_t`: ᾱ = 1/(σ²+1) in f32,
/// then linear interpolation over the schedule (SciPy `interp1d`, f64), truncated.
pub struct SigmaToT {
    acp: Vec<f64>,
}

impl SigmaToT {
    pub fn new(timesteps: usize) -> Self {
        Self { acp: alphas_cumprod(timesteps) }
    }

    pub fn t(&self, sigma: f32) -> u32 {
        let n = self.acp.len();
        let ab = f64::from(1.0f32 / (sigma * sigma + 1.0));
        if ab > self.acp[0] {
            return 0;
        }
        if ab <= self.acp[n - 1] {
            return (n - 1) as u32;
        }
        // interp1d sorts x ascending: xs[j] = acp[n-1-j], ys[j] = n-1-j.
        let xs = |j: usize| self.acp[n - 1 - j];
        // searchsorted(side="left"): first j with xs[j] >= ab, clipped to [1, n-1].
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if xs(mid) < ab {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let j = lo.clamp(1, n - 1);
        let (x_lo, x_hi) = (xs(j - 1), xs(j));
        let (y_lo, y_hi) = ((n - j) as f64, (n - 1 - j) as f64);
        let slope = (y_hi - y_lo) / (x_hi - x_lo);
        let t = slope * (ab - x_lo) + y_lo;
        t as u32
    }
}

/// Standard-normal x_T for each seed (ChaCha8, Box–Muller, f64 → f32) times σ_max: `[seeds, len]`.
/// A row depends on its seed only.
pub fn initial_noise(seeds: &[u64], len: usize, sigma_max: f32, device: &Device) -> Result<Tensor, ShapEError> {
    let mut all = Vec::with_capacity(seeds.len() * len);
    for &seed in seeds {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut row = Vec::with_capacity(len + 1);
        while row.len() < len {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let a = std::f64::consts::TAU * u2;
            row.push((r * a.cos()) as f32 * sigma_max);
            row.push((r * a.sin()) as f32 * sigma_max);
        }
        row.truncate(len);
        all.extend(row);
    }
    Ok(Tensor::from_vec(all, (seeds.len(), len), device)?)
}

fn scalar(v: f32, dev: &Device) -> candle_core::Result<Tensor> {
    Tensor::new(v, dev)
}

/// x₀ for live rows `x` (`[B, d]`) at σ, guided: one model call on `[x; x]` with `[emb; 0]`.
fn denoise(
    model: &Denoiser,
    schedule: &SigmaToT,
    x: &Tensor,
    emb: &Tensor,
    sigma: f32,
    s: &SamplerSettings,
) -> Result<Tensor, ShapEError> {
    let b = x.dims()[0];
    let c_in = 1.0f32 / (sigma * sigma + 1.0).sqrt();
    let xin = (x * f64::from(c_in))?;
    let t = schedule.t(sigma);
    let clamp = |x0: Tensor| -> candle_core::Result<Tensor> {
        if s.clip_denoised {
            x0.clamp(-1f32, 1f32)
        } else {
            Ok(x0)
        }
    };
    if s.guided() {
        let xin = Tensor::cat(&[&xin, &xin], 0)?;
        let e = Tensor::cat(&[emb, &emb.zeros_like()?], 0)?;
        let x0 = clamp(model.forward(&xin, &vec![t; 2 * b], &e)?)?;
        let cond = x0.narrow(0, 0, b)?;
        let uncond = x0.narrow(0, b, b)?;
        Ok((&uncond + ((cond - &uncond)? * f64::from(s.guidance))?)?)
    } else {
        Ok(clamp(model.forward(&xin, &vec![t; b], emb)?)?)
    }
}

/// Runs the Heun sampler from `x_t` (`[B, d]`, already × σ_max) with unit embeddings `emb`
/// (`[B, clip_dim]`). Returns the final sample of each row, or `None` for cancelled rows.
pub fn sample_heun(
    model: &Denoiser,
    emb: &Tensor,
    x_t: Tensor,
    cancels: &[CancelToken],
    s: &SamplerSettings,
    timesteps: usize,
    on_call: &mut dyn FnMut(StepView<'_>),
) -> Result<Vec<Option<Tensor>>, ShapEError> {
    let n = x_t.dims()[0];
    if n == 0 || n > MAX_BATCH {
        return Err(ShapEError::BadInput(format!("a sampler run takes 1 to {MAX_BATCH} prompts, not {n}")));
    }
    if emb.dims()[0] != n || cancels.len() != n {
        return Err(ShapEError::BadInput("give one embedding and one cancel token per row".into()));
    }
    if s.steps == 0 || !(s.sigma_min > 0.0 && s.sigma_max > s.sigma_min && s.rho > 0.0) {
        return Err(ShapEError::BadInput("need at least one step and 0 < sigma_min < sigma_max".into()));
    }
    let dev = x_t.device().clone();
    let schedule = SigmaToT::new(timesteps);
    let sigmas = karras_sigmas(s.steps, s.sigma_min, s.sigma_max, s.rho);
    let total = s.total_calls();
    let mut live: Vec<usize> = (0..n).collect();
    let mut x = x_t.to_dtype(DType::F32)?;
    let mut emb = emb.to_dtype(DType::F32)?;
    let mut call = 0usize;

    // Drops cancelled rows from the state tensors; false when nothing is left.
    let prune = |live: &mut Vec<usize>, tensors: &mut [&mut Tensor]| -> Result<bool, ShapEError> {
        let keep: Vec<u32> = (0..live.len()).filter(|&i| !cancels[live[i]].is_cancelled()).map(|i| i as u32).collect();
        if keep.len() != live.len() {
            if !keep.is_empty() {
                let idx = Tensor::from_vec(keep.clone(), keep.len(), &dev)?;
                for t in tensors.iter_mut() {
                    **t = t.index_select(&idx, 0)?;
                }
            }
            *live = keep.iter().map(|&i| live[i as usize]).collect();
        }
        Ok(!live.is_empty())
    };

    for i in 0..s.steps {
        let (sigma, next) = (sigmas[i], sigmas[i + 1]);
        if !prune(&mut live, &mut [&mut x, &mut emb])? {
            return Ok(vec![None; n]);
        }
        let x0 = denoise(model, &schedule, &x, &emb, sigma, s)?;
        call += 1;
        on_call(StepView { call, total_calls: total, sigma, rows: &live, x0: &x0 });
        let mut d = (&x - &x0)?.broadcast_div(&scalar(sigma, &dev)?)?;
        let dt = f64::from(next - sigma);
        if next == 0.0 {
            x = (&x + (&d * dt)?)?;
        } else {
            let mut x2 = (&x + (&d * dt)?)?;
            if !prune(&mut live, &mut [&mut x, &mut emb, &mut d, &mut x2])? {
                return Ok(vec![None; n]);
            }
            let x0_2 = denoise(model, &schedule, &x2, &emb, next, s)?;
            call += 1;
            on_call(StepView { call, total_calls: total, sigma: next, rows: &live, x0: &x0_2 });
            let d2 = (&x2 - &x0_2)?.broadcast_div(&scalar(next, &dev)?)?;
            let d_prime = ((d + d2)? / 2.0)?;
            x = (&x + (d_prime * dt)?)?;
        }
    }
    let mut out = vec![None; n];
    for (i, &row) in live.iter().enumerate() {
        out[row] = Some(x.get(i)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_ends_and_t_table_shape() {
        let acp = alphas_cumprod(1024);
        assert!((acp[0] - (-12.0f64 / 1024.0).exp()).abs() < 1e-12);
        assert!(acp.windows(2).all(|w| w[1] < w[0]));
        let sig = karras_sigmas(64, 1e-3, 160.0, 7.0);
        assert_eq!(sig.len(), 65);
        assert!((sig[0] - 160.0).abs() < 1e-3 && (sig[63] - 1e-3).abs() < 1e-7 && sig[64] == 0.0);
        let map = SigmaToT::new(1024);
        let t: Vec<u32> = sig[..64].iter().map(|&s| map.t(s)).collect();
        assert_eq!(&t[..3], &[865, 849, 833]);
        assert!(t[49..].iter().all(|&x| x == 0) && t[48] != 0);
    }

    #[test]
    fn noise_rows_depend_on_their_seed_only() {
        let a = initial_noise(&[7, 9], 11, 1.0, &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        let b = initial_noise(&[9], 11, 1.0, &Device::Cpu).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(a[1], b[0]);
        assert_ne!(a[0], a[1]);
        let all =
            initial_noise(&[1], 20000, 1.0, &Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mean = all.iter().sum::<f32>() / all.len() as f32;
        let var = all.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / all.len() as f32;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    }
}
