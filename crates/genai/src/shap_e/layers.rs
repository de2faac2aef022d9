//! The two building blocks every network here uses, loaded from [`Weights`].

use candle_core::{Module, Result, Tensor};

use super::{ShapEError, Weights};

/// `y = x·Wᵀ + b` over the last dimension; leading dimensions are folded into one matmul.
#[derive(Debug, Clone)]
pub struct Linear {
    /// `[out, in]`, as stored.
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn load(
        w: &Weights,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> std::result::Result<Self, ShapEError> {
        let weight = w.get(&format!("{prefix}.weight"), &[d_out, d_in])?;
        let bias = if bias { Some(w.get(&format!("{prefix}.bias"), &[d_out])?) } else { None };
        Ok(Self { weight, bias })
    }

    pub fn out_dim(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Linear {
    /// `[rows, in]` is one matmul. `[B, T, in]` (and higher ranks, folded to 3) is a batched matmul,
    /// one `T × in` product per batch element: the CPU gemm picks its kernel by the row count, so
    /// this keeps each element's result bit-identical whatever else shares the batch.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let d_in = *dims.last().unwrap_or(&1);
        let mut y = if dims.len() <= 2 {
            x.reshape((x.elem_count() / d_in.max(1), d_in))?.matmul(&self.weight.t()?)?
        } else {
            let t = dims[dims.len() - 2];
            let b = x.elem_count() / (t * d_in).max(1);
            let x3 = x.reshape((b, t, d_in))?;
            let wt = self.weight.t()?;
            // Not `x3.matmul(w.broadcast_left(b))`: candle folds that into one (b·t)-row gemm.
            let rows = (0..b).map(|i| x3.get(i)?.matmul(&wt)).collect::<Result<Vec<_>>>()?;
            Tensor::stack(&rows, 0)?
        };
        if let Some(bias) = &self.bias {
            y = y.broadcast_add(bias)?;
        }
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = self.out_dim();
        }
        y.reshape(out_dims)
    }
}

/// Loads a LayerNorm (`weight`, `bias`) over `dim` channels.
pub fn layer_norm(
    w: &Weights,
    prefix: &str,
    dim: usize,
    eps: f64,
) -> std::result::Result<candle_nn::LayerNorm, ShapEError> {
    let weight = w.get(&format!("{prefix}.weight"), &[dim])?;
    let bias = w.get(&format!("{prefix}.bias"), &[dim])?;
    Ok(candle_nn::LayerNorm::new(weight, bias, eps))
}

/// Names and shapes of a linear layer's tensors.
pub fn linear_shapes(out: &mut Vec<(String, Vec<usize>)>, prefix: &str, d_in: usize, d_out: usize, bias: bool) {
    out.push((format!("{prefix}.weight"), vec![d_out, d_in]));
    if bias {
        out.push((format!("{prefix}.bias"), vec![d_out]));
    }
}

/// Names and shapes of a LayerNorm's tensors.
pub fn norm_shapes(out: &mut Vec<(String, Vec<usize>)>, prefix: &str, dim: usize) {
    out.push((format!("{prefix}.weight"), vec![dim]));
    out.push((format!("{prefix}.bias"), vec![dim]));
}
