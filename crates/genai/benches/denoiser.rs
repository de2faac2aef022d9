//! Shap-E denoiser speed on the CPU, candle against PyTorch (not run by CI).
//!
//!     CARGO_TARGET_DIR=/work/target-shape cargo bench -p genai --bench denoiser
//!
//! Times one guided call at full size (batch 2: the conditional and unconditional rows of one
//! prompt, 1026 tokens, random weights) `BENCH_REPEATS` times (default 2; the first call pays for
//! page faults and allocation), then runs `benches/denoiser_torch.py` for the same shapes and thread
//! count with the torch venv (`$TORCH_PYTHON`, else `~/.cache/printfarm/torch-venv/bin/python`) and
//! prints both times and their ratio. Also times a tiny-config sampler loop (16 steps, 2 prompts)
//! on the test fixtures. `BENCH_PROFILE=1` adds timings of single operations at full-size shapes.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use genai::shap_e::{self, Denoiser, SamplerSettings, ShapE, ShapEConfig, Weights};
use genai::CancelToken;

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn random_denoiser(cfg: &ShapEConfig) -> Denoiser {
    let dev = Device::Cpu;
    let mut map = HashMap::new();
    for spec in shap_e::expected_tensors(cfg).into_iter().filter(|s| s.file == shap_e::DENOISER_FILE) {
        let fan_in = *spec.shape.last().unwrap_or(&1) as f64;
        let t = Tensor::randn(0f32, (1.0 / fan_in.sqrt()) as f32, spec.shape.clone(), &dev).unwrap();
        map.insert(spec.name, t);
    }
    Denoiser::load(&Weights::from_map("random", map, DType::F32, &dev), &cfg.denoiser).unwrap()
}

fn profile_ops() {
    let dev = Device::Cpu;
    let time = |what: &str, f: &dyn Fn()| {
        f();
        let t = Instant::now();
        f();
        println!("  {what:<44} {:8.1} ms", secs(t) * 1e3);
    };
    let x = Tensor::randn(0f32, 1.0, (2052, 1024), &dev).unwrap();
    let w = Tensor::randn(0f32, 0.03, (4096, 1024), &dev).unwrap();
    let h = Tensor::randn(0f32, 1.0, (2, 1026, 4096), &dev).unwrap();
    let q = Tensor::randn(0f32, 1.0, (2, 16, 1026, 64), &dev).unwrap();
    time("matmul 2052x1024 · 1024x4096 (w.t())", &|| {
        x.matmul(&w.t().unwrap()).unwrap();
    });
    let wt = w.t().unwrap().contiguous().unwrap();
    time("matmul 2052x1024 · 1024x4096 (contiguous)", &|| {
        x.matmul(&wt).unwrap();
    });
    time("gelu_erf [2,1026,4096]", &|| {
        h.gelu_erf().unwrap();
    });
    time("q·kᵀ [32,1026,64]", &|| {
        q.matmul(&q.t().unwrap()).unwrap();
    });
    let att = q.matmul(&q.t().unwrap()).unwrap();
    time("softmax [32,1026,1026]", &|| {
        candle_nn::ops::softmax_last_dim(&att).unwrap();
    });
    time("att·v", &|| {
        att.matmul(&q).unwrap();
    });
    time("shap_e::kernels::softmax_scaled_last_dim", &|| {
        shap_e::kernels::softmax_scaled_last_dim(&att, 0.125).unwrap();
    });
    time("shap_e::kernels::gelu_erf", &|| {
        shap_e::kernels::gelu_erf(&h).unwrap();
    });
}

fn torch_python() -> Option<String> {
    if let Ok(p) = std::env::var("TORCH_PYTHON") {
        return Some(p);
    }
    let home = std::env::var("HOME").ok()?;
    let p = Path::new(&home).join(".cache/printfarm/torch-venv/bin/python");
    p.is_file().then(|| p.display().to_string())
}

fn main() {
    let threads = candle_core::utils::get_num_threads();
    let repeats: usize = std::env::var("BENCH_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    println!("Shap-E denoiser, full size, batch 2 (one guided call), CPU, {threads} threads");
    if std::env::var("BENCH_PROFILE").is_ok() {
        profile_ops();
    }

    let cfg = ShapEConfig::text300m();
    if std::env::var("BENCH_SKIP_FORWARD").is_err() {
        denoiser_vs_torch(&cfg, threads, repeats);
    }
    decoder(&cfg);
    tiny_sampler();
}

/// The full-size decoder with random weights: projection of a random latent, then a 64³ grid
/// coarse to fine (random weights give a surface almost everywhere, so this is near the dense cost).
fn decoder(cfg: &ShapEConfig) {
    let dev = Device::Cpu;
    let mut map = HashMap::new();
    for spec in shap_e::expected_tensors(cfg).into_iter().filter(|s| s.file == shap_e::DECODER_FILE) {
        let fan_in = *spec.shape.last().unwrap_or(&1) as f64;
        map.insert(spec.name, Tensor::randn(0f32, (1.0 / fan_in.sqrt()) as f32, spec.shape.clone(), &dev).unwrap());
    }
    let dec = shap_e::ImplicitDecoder::load(
        &Weights::from_map("random", map, DType::F32, &dev),
        &cfg.decoder,
        cfg.denoiser.channels,
    )
    .unwrap();
    let latent = shap_e::Latent(Tensor::randn(0f32, 1.0, cfg.denoiser.latent_len(), &dev).unwrap());
    let t = Instant::now();
    let field = dec.field(&latent).unwrap();
    println!("decoder: latent → MLP weights {:.2} s", secs(t));
    let pts: Vec<[f32; 3]> = (0..65536).map(|i| [(i % 64) as f32 / 32.0 - 1.0, 0.1, -0.2]).collect();
    let t = Instant::now();
    field.sdf(&pts).unwrap();
    let per_point = secs(t) / 65536.0;
    println!(
        "decoder: {:.1} µs per point ({:.0} s for a dense 128³ grid)",
        per_point * 1e6,
        per_point * 128f64.powi(3)
    );
    let t = Instant::now();
    let shape = dec.decode(&latent, 64).unwrap();
    println!("decoder: 64³ grid coarse to fine {:.1} s", secs(t));
    let t = Instant::now();
    let m = mesh::marching_cubes::marching_cubes(&shape.grid);
    println!("marching cubes: {:.2} s, {} triangles", secs(t), m.triangle_count());
}

fn denoiser_vs_torch(cfg: &ShapEConfig, threads: usize, repeats: usize) {
    let t = Instant::now();
    let den = random_denoiser(cfg);
    println!("  random weights: {:.1} s", secs(t));
    let d = cfg.denoiser.latent_len();
    let x = Tensor::randn(0f32, 1.0, (2, d), &Device::Cpu).unwrap();
    let e = Tensor::randn(0f32, 1.0, (1, 768), &Device::Cpu).unwrap();
    let emb = Tensor::cat(&[&e, &e.zeros_like().unwrap()], 0).unwrap();
    let mut candle_times = Vec::new();
    for i in 0..repeats {
        let t = Instant::now();
        let out = den.forward(&x, &[500, 500], &emb).unwrap();
        let s = secs(t);
        assert_eq!(out.dims(), &[2, d]);
        println!("  candle forward {}: {s:.2} s", i + 1);
        candle_times.push(s);
    }
    drop(den);
    let candle_best = candle_times.iter().copied().fold(f64::INFINITY, f64::min);

    match torch_python() {
        Some(py) => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/denoiser_torch.py");
            let out = std::process::Command::new(&py)
                .arg(&script)
                .args(["--threads", &threads.to_string(), "--repeats", &repeats.to_string()])
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let last = text.lines().last().unwrap_or("");
                    let v: serde_json::Value = serde_json::from_str(last).unwrap_or_default();
                    let times: Vec<f64> = v["times"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                        .unwrap_or_default();
                    for (i, s) in times.iter().enumerate() {
                        println!("  torch {} forward {}: {s:.2} s", v["torch"].as_str().unwrap_or("?"), i + 1);
                    }
                    let torch_best = times.iter().copied().fold(f64::INFINITY, f64::min);
                    println!(
                        "best: candle {candle_best:.2} s, torch {torch_best:.2} s, candle/torch = {:.2}",
                        candle_best / torch_best
                    );
                }
                Ok(o) => println!("  torch run failed: {}", String::from_utf8_lossy(&o.stderr)),
                Err(e) => println!("  could not start {py}: {e}"),
            }
        }
        None => println!("  torch: no venv at ~/.cache/printfarm/torch-venv and no $TORCH_PYTHON; skipped"),
    }
}

fn tiny_sampler() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shap_e/pack");
    let model = ShapE::load_on(&pack, &Device::Cpu, DType::F32).unwrap();
    let settings = SamplerSettings { steps: 16, ..SamplerSettings::default() };
    let t = Instant::now();
    let mut calls = 0;
    let out = model
        .sample(&["a shark", "a red apple"], &[0, 1], &[CancelToken::new(), CancelToken::new()], &settings, &mut |_| {
            calls += 1
        })
        .unwrap();
    assert!(out.iter().all(|o| o.is_some()));
    println!("tiny config sampler: 2 prompts, 16 steps, {calls} calls: {:.1} ms", secs(t) * 1e3);
    println!(
        "estimate_seconds_cpu(low/medium/high) on this machine: {:.0} / {:.0} / {:.0} s",
        shap_e::estimate_seconds_cpu(&SamplerSettings::for_quality(genai::Quality::Low)),
        shap_e::estimate_seconds_cpu(&SamplerSettings::for_quality(genai::Quality::Medium)),
        shap_e::estimate_seconds_cpu(&SamplerSettings::for_quality(genai::Quality::High))
    );
}
