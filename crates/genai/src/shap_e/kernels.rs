//! CPU kernels for the two element-wise hot spots of the denoiser, written so LLVM vectorises them
//! (no libm calls, no branches in the inner loops): candle's CPU softmax and exact GELU call scalar
//! `expf`/`erf` per element, which cost ~25% of a full-size call on 2 cores.
//!
//! - [`exp`]: Cephes-style `expf` (range reduction by ln 2, degree-6 polynomial), ≤ 2 ulp.
//! - [`softmax_scaled_last_dim`]: `softmax(scale · x)` over the last dimension.
//! - [`gelu_erf`]: `x/2 · (1 + erf(x/√2))` with the erf of PyTorch's vectorised CPU path
//!   (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
//!
//! Other devices (and dtypes other than f32) use candle's own operations.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

const LANES: usize = 8;
/// Elements per rayon task: coarse, so splitting costs nothing next to the work.
const TASK: usize = 1 << 18;

/// e^x for x in about [-87, 88] (clamped outside), vectorisable.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let r = x * LOG2E + MAGIC;
    let n = (r.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let fx = r - MAGIC;
    let x = x - fx * C1 - fx * C2;
    let z = x * x;
    let p = ((((1.987_569_1e-4 * x + 1.398_199_9e-3) * x + 8.333_452e-3) * x + 4.166_579_6e-2) * x + 1.666_666_5e-1)
        * x
        + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = p * z + x + 1.0;
    y * f32::from_bits(((n + 127) as u32) << 23)
}

/// erf as PyTorch's `Vectorized<float>::erf` computes it (A&S 7.1.26).
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_72;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    let sign = if x < 0.0 { -1.0f32 } else { 1.0 };
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    sign * (1.0 - poly * exp(-a * a))
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = storage else { candle_core::bail!("f32 only") };
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("input must be contiguous"),
    }
}

struct Softmax(f32);

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "shap-e-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let dims = layout.shape().dims();
        let n = dims[dims.len() - 1];
        let scale = self.0;
        let mut dst = vec![0f32; src.len()];
        // Rayon tasks of whole rows, at least ~256K elements each.
        let rows_per_task = (TASK / n.max(1)).max(1) * n;
        dst.par_chunks_mut(rows_per_task).zip(src.par_chunks(rows_per_task)).for_each(|(db, sb)| {
            for (d, s) in db.chunks_mut(n).zip(sb.chunks(n)) {
                softmax_row(d, s, scale);
            }
        });
        Ok((CpuStorage::F32(dst), Shape::from_dims(dims)))
    }
}

/// `d = softmax(scale · s)`.
#[inline]
fn softmax_row(d: &mut [f32], s: &[f32], scale: f32) {
    let mut m = [f32::NEG_INFINITY; LANES];
    let mut chunks = s.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            m[i] = if c[i] > m[i] { c[i] } else { m[i] };
        }
    }
    let mut max = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &v in chunks.remainder() {
        max = max.max(v);
    }
    let mut acc = [0f32; LANES];
    let mut dc = d.chunks_exact_mut(LANES);
    let mut sc = s.chunks_exact(LANES);
    for (dd, ss) in (&mut dc).zip(&mut sc) {
        for i in 0..LANES {
            dd[i] = exp((ss[i] - max) * scale);
            acc[i] += dd[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (dd, &ss) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
        *dd = exp((ss - max) * scale);
        sum += *dd;
    }
    let inv = 1.0 / sum;
    for v in d.iter_mut() {
        *v *= inv;
    }
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "shap-e-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous_f32(storage, layout)?;
        let mut dst = vec![0f32; src.len()];
        const FRAC_1_SQRT2: f32 = std::f32::consts::FRAC_1_SQRT_2;
        dst.par_chunks_mut(TASK).zip(src.par_chunks(TASK)).for_each(|(d, s)| {
            for (d, &x) in d.iter_mut().zip(s) {
                *d = 0.5 * x * (1.0 + erf(x * FRAC_1_SQRT2));
            }
        });
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

fn fast_path(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// `softmax(scale · x)` over the last dimension.
pub fn softmax_scaled_last_dim(x: &Tensor, scale: f64) -> Result<Tensor> {
    if fast_path(x) {
        x.contiguous()?.apply_op1_no_bwd(&Softmax(scale as f32))
    } else {
        candle_nn::ops::softmax_last_dim(&(x.to_dtype(DType::F32)? * scale)?)?.to_dtype(x.dtype())
    }
}

/// Exact-erf GELU.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if fast_path(x) {
        x.contiguous()?.apply_op1_no_bwd(&Gelu)
    } else {
        x.gelu_erf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        let mut worst = 0f64;
        for i in 0..=20000 {
            let x = -87.0 + 175.0 * i as f32 / 20000.0;
            let want = f64::from(x).exp();
            worst = worst.max(((f64::from(exp(x)) - want) / want).abs());
        }
        assert!(worst < 3.0 * f64::from(f32::EPSILON), "exp rel err {worst}");
        for i in 0..=2000 {
            let x = -6.0 + 12.0 * i as f32 / 2000.0;
            // erf(x) against a high-accuracy series/continued fraction via the f64 gelu identity.
            let want = libm_erf(f64::from(x));
            assert!((f64::from(erf(x)) - want).abs() < 1e-6, "erf({x})");
        }
    }

    /// erf by its Taylor series (|x| ≤ 3) or the complementary asymptotic expansion, in f64.
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let r = if a < 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            let mut s = 1.0;
            let mut t = 1.0;
            for k in 1..8 {
                t *= -(2.0 * k as f64 - 1.0) / (2.0 * a * a);
                s += t;
            }
            1.0 - (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * s
        };
        r.copysign(x)
    }

    #[test]
    fn kernels_match_candle() {
        let dev = candle_core::Device::Cpu;
        let x = Tensor::randn(0f32, 3.0, (3, 5, 37), &dev).unwrap();
        let a = softmax_scaled_last_dim(&x, 0.125).unwrap();
        let b = candle_nn::ops::softmax_last_dim(&(&x * 0.125).unwrap()).unwrap();
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-6, "softmax {d}");
        let a = gelu_erf(&x).unwrap();
        let b = x.gelu_erf().unwrap();
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-6, "gelu {d}");
    }
}
