//! Latent → implicit MLP → signed distances and colours on a grid (Shap-E's STF decoder, upstream
//! `transmitter.pt` names).
//!
//! The latent's tokens are split into four groups of `d_hidden`; group `l` is projected into the
//! weight matrix of MLP layer `l` (`ChannelsProj`: per token `h[v,c] = Σ_d x[v,d]·W[v,c,d]`, then a
//! LayerNorm over `c`, then a bias). The MLP maps a NeRF position encoding of p ∈ [-1, 1]³ (93 numbers)
//! through six SiLU layers (a zero direction encoding joins at layer 4) to 12 outputs:
//! `[sdf | density × 2 | stf rgb | nerf rgb × 2]`. SDF = tanh(out₀), positive inside upstream (we
//! negate it for [`SdfGrid`]); colour = sigmoid(out₃..₅).

use candle_core::{DType, Device, Module, Tensor};

use super::layers::{layer_norm, linear_shapes, norm_shapes, Linear};
use super::{Latent, ShapEError, Weights};
use mesh::marching_cubes::SdfGrid;

/// MLP layers whose weights come from the latent.
pub const PROJECTED_LAYERS: usize = 4;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecoderConfig {
    pub d_hidden: usize,
    pub n_hidden_layers: usize,
    pub insert_direction_at: usize,
    pub n_output: usize,
    /// Octaves of the position encoding (15 → 3 + 90 = 93 inputs).
    pub pos_octaves: usize,
    /// Octaves of the direction encoding (8 → 51 inputs, all zero for mesh extraction).
    pub dir_octaves: usize,
}

impl DecoderConfig {
    pub fn transmitter() -> Self {
        Self {
            d_hidden: 256,
            n_hidden_layers: 6,
            insert_direction_at: 4,
            n_output: 12,
            pos_octaves: 15,
            dir_octaves: 8,
        }
    }

    pub fn tiny() -> Self {
        Self { d_hidden: 8, ..Self::transmitter() }
    }

    pub fn pos_dim(&self) -> usize {
        3 + 6 * self.pos_octaves
    }

    pub fn dir_dim(&self) -> usize {
        3 + 6 * self.dir_octaves
    }

    /// Latent tokens consumed by the weight projections.
    pub fn latent_vectors(&self) -> usize {
        PROJECTED_LAYERS * self.d_hidden
    }

    /// (in, out) of each MLP layer.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let h = self.d_hidden;
        (0..=self.n_hidden_layers)
            .map(|i| {
                let d_in = if i == 0 { self.pos_dim() } else { h };
                let d_in = if i == self.insert_direction_at { d_in + self.dir_dim() } else { d_in };
                let d_out = if i == self.n_hidden_layers { self.n_output } else { h };
                (d_in, d_out)
            })
            .collect()
    }
}

fn proj_name(l: usize) -> String {
    format!("encoder.params_proj.projections.nerstf__mlp__{l}__weight")
}

fn mlp_name(l: usize) -> String {
    format!("renderer.nerstf.mlp.{l}")
}

/// Names and shapes of the decoder tensors for latents of `channels` per token.
pub fn tensor_shapes(c: &DecoderConfig, channels: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    let dims = c.layer_dims();
    for (l, &(d_in, d_out)) in dims.iter().enumerate().take(PROJECTED_LAYERS) {
        let p = proj_name(l);
        linear_shapes(&mut out, &format!("{p}.proj"), channels, d_out * d_in, true);
        norm_shapes(&mut out, &format!("{p}.norm"), d_in);
    }
    for (l, &(d_in, d_out)) in dims.iter().enumerate() {
        if l < PROJECTED_LAYERS {
            out.push((format!("{}.bias", mlp_name(l)), vec![d_out]));
        } else {
            linear_shapes(&mut out, &mlp_name(l), d_in, d_out, true);
        }
    }
    out
}

struct Projection {
    /// `[vectors, channels, d_latent]`.
    weight: Tensor,
    /// `[vectors, channels]`.
    bias: Tensor,
    norm: candle_nn::LayerNorm,
}

/// The latent-independent part of the decoder.
pub struct ImplicitDecoder {
    cfg: DecoderConfig,
    channels: usize,
    projections: Vec<Projection>,
    /// Biases of the projected layers and full static layers after them.
    biases: Vec<Tensor>,
    static_layers: Vec<Linear>,
}

/// The MLP of one latent, ready to query.
#[derive(Clone)]
pub struct DecoderField {
    cfg: DecoderConfig,
    /// `[out, in]` per layer; layer `insert_direction_at` keeps only its position columns (the
    /// direction encoding is zero).
    layers: Vec<Linear>,
}

impl ImplicitDecoder {
    pub fn load(w: &Weights, cfg: &DecoderConfig, channels: usize) -> Result<Self, ShapEError> {
        let dims = cfg.layer_dims();
        let mut projections = Vec::new();
        let mut biases = Vec::new();
        for (l, &(d_in, d_out)) in dims.iter().enumerate().take(PROJECTED_LAYERS) {
            let p = proj_name(l);
            let weight =
                w.get(&format!("{p}.proj.weight"), &[d_out * d_in, channels])?.reshape((d_out, d_in, channels))?;
            let bias = w.get(&format!("{p}.proj.bias"), &[d_out * d_in])?.reshape((d_out, d_in))?;
            let norm = layer_norm(w, &format!("{p}.norm"), d_in, 1e-5)?;
            projections.push(Projection { weight, bias, norm });
            biases.push(w.get(&format!("{}.bias", mlp_name(l)), &[d_out])?);
        }
        let static_layers = dims
            .iter()
            .enumerate()
            .skip(PROJECTED_LAYERS)
            .map(|(l, &(d_in, d_out))| Linear::load(w, &mlp_name(l), d_in, d_out, true))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { cfg: cfg.clone(), channels, projections, biases, static_layers })
    }

    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    fn device(&self) -> &Device {
        self.biases[0].device()
    }

    /// Projects a latent into the MLP's weights.
    pub fn field(&self, latent: &Latent) -> Result<DecoderField, ShapEError> {
        let (v_all, ch) = (self.cfg.latent_vectors(), self.channels);
        if latent.len() != v_all * ch {
            return Err(ShapEError::BadInput(format!(
                "the decoder needs a latent of {} numbers, got {}",
                v_all * ch,
                latent.len()
            )));
        }
        let dt = self.biases[0].dtype();
        let x = latent.0.to_device(self.device())?.to_dtype(dt)?.reshape((v_all, ch))?;
        let mut layers = Vec::new();
        let mut start = 0;
        for (p, b) in self.projections.iter().zip(&self.biases) {
            let (vectors, channels, _) = p.weight.dims3()?;
            let xv = x.narrow(0, start, vectors)?.unsqueeze(2)?; // [v, d, 1]
            let h = p.weight.matmul(&xv)?.squeeze(2)?; // [v, c]
            let h = (p.norm.forward(&h)? + &p.bias)?;
            layers.push(Linear { weight: h.reshape((vectors, channels))?, bias: Some(b.clone()) });
            start += vectors;
        }
        for (i, l) in self.static_layers.iter().enumerate() {
            let idx = PROJECTED_LAYERS + i;
            let weight = if idx == self.cfg.insert_direction_at {
                let d_in = l.weight.dims()[1] - self.cfg.dir_dim();
                l.weight.narrow(1, 0, d_in)?.contiguous()?
            } else {
                l.weight.clone()
            };
            layers.push(Linear { weight, bias: l.bias.clone() });
        }
        Ok(DecoderField { cfg: self.cfg.clone(), layers })
    }

    /// SDF grid of `grid_size` samples per axis over [-1, 1]³ (negative inside), queried coarse to
    /// fine above 48 samples per axis.
    pub fn decode(&self, latent: &Latent, grid_size: usize) -> Result<DecodedShape, ShapEError> {
        let field = self.field(latent)?;
        let grid =
            if grid_size > 48 { field.grid_coarse_to_fine(grid_size, 4)? } else { field.grid_dense(grid_size)? };
        Ok(DecodedShape { grid, field })
    }
}

/// NeRF position encoding `[p, sin(2^k p), sin(2^k p + π/2)]`, k-major, f32 like PyTorch's.
pub fn position_encoding(points: &[[f32; 3]], octaves: usize) -> Vec<f32> {
    let dim = 3 + 6 * octaves;
    let half_pi = std::f64::consts::FRAC_PI_2 as f32;
    let mut out = Vec::with_capacity(points.len() * dim);
    for p in points {
        out.extend_from_slice(p);
        let xb: Vec<f32> = (0..octaves).flat_map(|k| p.map(|c| c * (1u32 << k) as f32)).collect();
        out.extend(xb.iter().map(|&v| f64::from(v).sin() as f32));
        out.extend(xb.iter().map(|&v| f64::from(v + half_pi).sin() as f32));
    }
    out
}

/// Points per MLP batch (bounded memory: ~20 MB of activations at full size).
const CHUNK: usize = 16384;

impl DecoderField {
    fn device(&self) -> &Device {
        self.layers[0].weight.device()
    }

    /// Raw MLP outputs `[N, n_output]` at positions `[N, 3]`.
    pub fn query(&self, points: &Tensor) -> Result<Tensor, ShapEError> {
        let pts: Vec<[f32; 3]> =
            points.to_dtype(DType::F32)?.to_vec2::<f32>()?.into_iter().map(|r| [r[0], r[1], r[2]]).collect();
        self.query_points(&pts)
    }

    fn query_points(&self, pts: &[[f32; 3]]) -> Result<Tensor, ShapEError> {
        let n = pts.len();
        let enc = position_encoding(pts, self.cfg.pos_octaves);
        let dt = self.layers[0].weight.dtype();
        let mut h = Tensor::from_vec(enc, (n, self.cfg.pos_dim()), self.device())?.to_dtype(dt)?;
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h)?;
            if i < last {
                h = candle_nn::ops::silu(&h)?;
            }
        }
        Ok(h.to_dtype(DType::F32)?)
    }

    /// Our SDF (−tanh(out₀): negative inside) at each point, in chunks.
    pub fn sdf(&self, pts: &[[f32; 3]]) -> Result<Vec<f32>, ShapEError> {
        let mut out = Vec::with_capacity(pts.len());
        for chunk in pts.chunks(CHUNK) {
            let o = self.query_points(chunk)?.narrow(1, 0, 1)?.tanh()?.neg()?;
            out.extend(o.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Vertex colours (sigmoid of the STF head), in chunks.
    pub fn colours(&self, pts: &[[f32; 3]]) -> Result<Vec<mesh::Rgba>, ShapEError> {
        let mut out = Vec::with_capacity(pts.len());
        for chunk in pts.chunks(CHUNK) {
            let o = candle_nn::ops::sigmoid(&self.query_points(chunk)?.narrow(1, 3, 3)?)?;
            for r in o.to_vec2::<f32>()? {
                let b = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                out.push([b(r[0]), b(r[1]), b(r[2]), 255]);
            }
        }
        Ok(out)
    }

    /// Every sample of an `n³` grid over [-1, 1]³.
    pub fn grid_dense(&self, n: usize) -> Result<SdfGrid, ShapEError> {
        check_size(n)?;
        let pts: Vec<[f32; 3]> = (0..n * n * n).map(|i| grid_point(i, n)).collect();
        let values = self.sdf(&pts)?;
        Ok(SdfGrid::new([n; 3], [-1.0; 3], 2.0 / (n - 1) as f32, values)?)
    }

    /// An `n³` grid computed exactly only near the surface: a coarse grid every `step` samples
    /// finds the coarse cells whose corners disagree in sign (or lie close to zero), grown by one
    /// cell; their samples are queried, the rest trilinearly interpolated from the coarse grid
    /// (which keeps their sign, as all corners of such a cell agree).
    pub fn grid_coarse_to_fine(&self, n: usize, step: usize) -> Result<SdfGrid, ShapEError> {
        check_size(n)?;
        let step = step.max(1);
        let mut coarse_idx: Vec<usize> = (0..n).step_by(step).collect();
        if *coarse_idx.last().unwrap_or(&0) != n - 1 {
            coarse_idx.push(n - 1);
        }
        let m = coarse_idx.len();
        let coord = |i: usize| grid_coord(i, n);
        let cpts: Vec<[f32; 3]> = (0..m * m * m)
            .map(|i| [coord(coarse_idx[i % m]), coord(coarse_idx[(i / m) % m]), coord(coarse_idx[i / (m * m)])])
            .collect();
        let cv = self.sdf(&cpts)?;
        let cat = |x: usize, y: usize, z: usize| cv[x + m * (y + m * z)];
        // Active coarse cells.
        let cells = m - 1;
        let mut active = vec![false; cells * cells * cells];
        for z in 0..cells {
            for y in 0..cells {
                for x in 0..cells {
                    let vals: Vec<f32> = (0..8).map(|c| cat(x + (c & 1), y + ((c >> 1) & 1), z + (c >> 2))).collect();
                    let inside = vals.iter().filter(|v| **v < 0.0).count();
                    let near = vals.iter().any(|v| v.abs() < 0.05);
                    if (inside != 0 && inside != 8) || near {
                        active[x + cells * (y + cells * z)] = true;
                    }
                }
            }
        }
        let mut grown = active.clone();
        for z in 0..cells {
            for y in 0..cells {
                for x in 0..cells {
                    if !active[x + cells * (y + cells * z)] {
                        continue;
                    }
                    for dz in z.saturating_sub(1)..=(z + 1).min(cells - 1) {
                        for dy in y.saturating_sub(1)..=(y + 1).min(cells - 1) {
                            for dx in x.saturating_sub(1)..=(x + 1).min(cells - 1) {
                                grown[dx + cells * (dy + cells * dz)] = true;
                            }
                        }
                    }
                }
            }
        }
        // Coarse cell of each fine index along an axis, and the position inside it.
        let cell_of: Vec<(usize, f32)> = (0..n)
            .map(|i| {
                let c = coarse_idx.partition_point(|&ci| ci <= i).saturating_sub(1).min(cells - 1);
                let (a, b) = (coarse_idx[c], coarse_idx[c + 1]);
                (c, (i - a) as f32 / (b - a) as f32)
            })
            .collect();
        let in_cell = |i: usize| -> Vec<usize> {
            // A fine index on a coarse boundary belongs to the cells on both sides.
            let (c, f) = cell_of[i];
            if f == 0.0 && c > 0 {
                vec![c - 1, c]
            } else {
                vec![c]
            }
        };
        let mut values = vec![0f32; n * n * n];
        let mut exact = Vec::new();
        for z in 0..n {
            let cz = in_cell(z);
            for y in 0..n {
                let cy = in_cell(y);
                for x in 0..n {
                    let cx = in_cell(x);
                    let hit =
                        cz.iter().any(|&k| cy.iter().any(|&j| cx.iter().any(|&i| grown[i + cells * (j + cells * k)])));
                    let idx = x + n * (y + n * z);
                    if hit {
                        exact.push(idx);
                    } else {
                        let ((i, fx), (j, fy), (k, fz)) = (cell_of[x], cell_of[y], cell_of[z]);
                        let l = |a: f32, b: f32, t: f32| a + (b - a) * t;
                        let c00 = l(cat(i, j, k), cat(i + 1, j, k), fx);
                        let c10 = l(cat(i, j + 1, k), cat(i + 1, j + 1, k), fx);
                        let c01 = l(cat(i, j, k + 1), cat(i + 1, j, k + 1), fx);
                        let c11 = l(cat(i, j + 1, k + 1), cat(i + 1, j + 1, k + 1), fx);
                        values[idx] = l(l(c00, c10, fy), l(c01, c11, fy), fz);
                    }
                }
            }
        }
        let pts: Vec<[f32; 3]> = exact.iter().map(|&i| grid_point(i, n)).collect();
        for (&i, v) in exact.iter().zip(self.sdf(&pts)?) {
            values[i] = v;
        }
        Ok(SdfGrid::new([n; 3], [-1.0; 3], 2.0 / (n - 1) as f32, values)?)
    }
}

fn check_size(n: usize) -> Result<(), ShapEError> {
    if !(2..=512).contains(&n) {
        return Err(ShapEError::BadInput(format!("grid size {n} is outside 2..=512")));
    }
    Ok(())
}

/// Coordinate of sample `k` of `n` over [-1, 1], rounded as upstream's `volume_query_points`
/// (`k/(n−1)·2 − 1` in f32): the position encoding's 2¹⁴ octave turns any other rounding into
/// visible differences.
fn grid_coord(k: usize, n: usize) -> f32 {
    (k as f32 / (n - 1) as f32) * 2.0 + -1.0
}

/// Position of flat index `i` (x fastest) of an `n³` grid over [-1, 1]³.
fn grid_point(i: usize, n: usize) -> [f32; 3] {
    [i % n, (i / n) % n, i / (n * n)].map(|k| grid_coord(k, n))
}

/// A decoded latent: its SDF grid and its colour field.
pub struct DecodedShape {
    /// Negative inside, [-1, 1]³, spacing 2/(n−1); marching cubes treats the outside of the grid as
    /// "outside", so the surface always closes (upstream pads with −1 for the same reason).
    pub grid: SdfGrid,
    pub field: DecoderField,
}

impl DecodedShape {
    /// Colours at mesh vertices (grid coordinates, i.e. [-1, 1]³); mid-grey if the query fails.
    pub fn colours_at(&self, points: &[[f32; 3]]) -> Vec<mesh::Rgba> {
        self.field.colours(points).unwrap_or_else(|_| vec![[128, 128, 128, 255]; points.len()])
    }
}
