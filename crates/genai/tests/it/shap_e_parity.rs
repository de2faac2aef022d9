//! Parity of the Shap-E port with PyTorch references, on the tiny random-weight fixtures made by
//! `tests/fixtures/shap_e/gen_fixtures.py` (transformers CLIP, diffusers PriorTransformer and STF MLP,
//! a transcription of k-diffusion's Heun sampler). CI needs no Python: the fixtures are committed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use genai::shap_e::{
    self, sampler, ClipTextModel, ClipTokenizer, Denoiser, ImplicitDecoder, Latent, SamplerSettings, ShapE,
    ShapEConfig, Weights,
};
use genai::CancelToken;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shap_e")
}

fn pack() -> PathBuf {
    dir().join("pack")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir().join("expected.safetensors"), &Device::Cpu).unwrap()
}

fn weights(file: &str) -> Weights {
    Weights::open(&pack().join(file), DType::F32, &Device::Cpu).unwrap()
}

fn f32s(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_dtype(DType::F32).unwrap().to_vec1().unwrap()
}

/// Max |a − b| and max |b|.
fn diff(a: &Tensor, b: &Tensor) -> (f32, f32) {
    let (a, b) = (f32s(a), f32s(b));
    assert_eq!(a.len(), b.len(), "lengths differ");
    let d = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    (d, b.iter().map(|x| x.abs()).fold(0f32, f32::max))
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, rel_tol: f32) -> f32 {
    let (d, scale) = diff(got, want);
    eprintln!("{what}: max abs diff {d:.3e} (output scale {scale:.3})");
    assert!(d <= rel_tol * scale.max(1.0), "{what}: max abs diff {d:e} exceeds {rel_tol:e} × {scale}");
    d
}

fn ids_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("tokenizer_ids.json")).unwrap()).unwrap()
}

fn rows(v: &serde_json::Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect())
        .collect()
}

#[test]
fn tokenizer_matches_hugging_face_on_tiny_merges() {
    let j = ids_json();
    let tok = ClipTokenizer::from_file(&pack().join("clip_bpe.txt"), 77).unwrap();
    assert_eq!(tok.vocab_size(), ShapEConfig::tiny().clip.vocab_size);
    for (p, want) in j["prompts"].as_array().unwrap().iter().zip(rows(&j["tiny"])) {
        assert_eq!(tok.encode(p.as_str().unwrap()), want, "prompt {p}");
    }
}

#[test]
fn tokenizer_matches_hugging_face_on_the_real_vocabulary() {
    let j = ids_json();
    let tok = ClipTokenizer::from_file(&dir().join("clip_bpe_simple_vocab_16e6.txt.gz"), 77).unwrap();
    assert_eq!((tok.vocab_size(), tok.sot(), tok.eot()), (49408, 49406, 49407));
    assert_eq!(tok.encode("a shark"), vec![49406, 320, 7980, 49407]);
    for (p, want) in j["prompts"].as_array().unwrap().iter().zip(rows(&j["real"])) {
        assert_eq!(tok.encode(p.as_str().unwrap()), want, "prompt {p}");
    }
    let long = tok.encode(&["shark"; 100].join(" "));
    assert_eq!(long, rows(&serde_json::json!([j["real_long"]]))[0]);
    assert_eq!(long.len(), 77);
    let padded = tok.encode_padded("a shark");
    assert_eq!((padded.len(), &padded[..4], padded[4]), (77, &[49406u32, 320, 7980, 49407][..], 0));
}

#[test]
fn clip_text_tower_matches_transformers() {
    let e = expected();
    let cfg = ShapEConfig::tiny().clip;
    let clip = ClipTextModel::load(&weights("clip_text.safetensors"), &cfg).unwrap();
    let ids: Vec<Vec<u32>> = e["clip.ids"]
        .to_vec2::<i64>()
        .unwrap()
        .into_iter()
        .map(|r| r.into_iter().map(|x| x as u32).collect())
        .collect();
    let got = clip.forward(&ids).unwrap();
    assert_close("CLIP text_embeds", &got, &e["clip.text_embeds"], 1e-5);
    // Unpadded rows give the same pooled features (the causal mask hides the padding).
    let trimmed: Vec<Vec<u32>> = ids.iter().map(|r| r[..=r.iter().position(|&x| x == 613).unwrap()].to_vec()).collect();
    assert_close("CLIP text_embeds, unpadded", &clip.forward(&trimmed).unwrap(), &e["clip.text_embeds"], 1e-5);
    let n = clip.embed_normalised(&ids).unwrap().sqr().unwrap().sum(1).unwrap();
    assert!(f32s(&n).iter().all(|x| (x - 1.0).abs() < 1e-5));
}

fn denoiser_from(w: &Weights) -> Denoiser {
    Denoiser::load(w, &ShapEConfig::tiny().denoiser).unwrap()
}

fn den_ts(e: &HashMap<String, Tensor>) -> Vec<u32> {
    e["den.t"].to_vec1::<i64>().unwrap().into_iter().map(|x| x as u32).collect()
}

#[test]
fn denoiser_forward_matches_diffusers_prior_transformer() {
    let e = expected();
    let den = denoiser_from(&weights("denoiser.safetensors"));
    let out = den.forward_raw(&e["den.x"], &den_ts(&e), &e["den.emb"]).unwrap();
    assert_close("denoiser forward", &out, &e["den.out"], 1e-5);
}

/// Negative control: the same weights read with a blocked [q…|k…|v…] layout of `c_qkv` instead of the
/// per-head interleave must fail the tolerance by far.
#[test]
fn denoiser_parity_detects_a_wrong_qkv_layout() {
    let e = expected();
    let mut map = candle_core::safetensors::load(pack().join("denoiser.safetensors"), &Device::Cpu).unwrap();
    let cfg = ShapEConfig::tiny().denoiser;
    let (h, hd, w) = (cfg.heads, cfg.width / cfg.heads, cfg.width);
    for i in 0..cfg.layers {
        for suffix in ["weight", "bias"] {
            let name = format!("wrapped.backbone.resblocks.{i}.attn.c_qkv.{suffix}");
            let t = &map[&name];
            let cols = if suffix == "weight" { w } else { 1 };
            // [3, heads, hd, cols] → [heads, 3, hd, cols]: what a blocked reader would see.
            let swapped = t.reshape((3, h, hd, cols)).unwrap().transpose(0, 1).unwrap().contiguous().unwrap();
            let swapped = if suffix == "weight" { swapped.reshape((3 * w, w)) } else { swapped.reshape(3 * w) };
            map.insert(name, swapped.unwrap());
        }
    }
    let den = denoiser_from(&Weights::from_map("swapped", map, DType::F32, &Device::Cpu));
    let out = den.forward_raw(&e["den.x"], &den_ts(&e), &e["den.emb"]).unwrap();
    let (d, scale) = diff(&out, &e["den.out"]);
    eprintln!("negative control (blocked qkv): max abs diff {d:.3e}");
    assert!(d > 1e-2 * scale.max(1.0), "a wrong q|k|v layout went unnoticed ({d})");
}

#[test]
fn schedule_sigmas_and_timestep_table_match_exactly() {
    let e = expected();
    let acp = sampler::alphas_cumprod(1024);
    let want: Vec<f64> = e["sched.alphas_cumprod"].to_vec1().unwrap();
    let worst = acp.iter().zip(&want).map(|(a, b)| ((a - b) / b).abs()).fold(0f64, f64::max);
    eprintln!("alphas_cumprod: max rel err {worst:e}");
    assert!(worst < 1e-13);
    let map = sampler::SigmaToT::new(1024);
    for n in [16usize, 32, 64] {
        let sig = sampler::karras_sigmas(n, 1e-3, 160.0, 7.0);
        let want_sig: Vec<f32> = e[&format!("sched.sigmas{n}")].to_vec1().unwrap();
        for (a, b) in sig.iter().zip(&want_sig) {
            assert!((a - b).abs() <= 2.0 * f32::EPSILON * b.abs(), "{n} steps: sigma {a} vs {b}");
        }
        // The table from torch's own sigmas must match exactly, and from ours too.
        let want_t: Vec<u32> =
            e[&format!("sched.t{n}")].to_vec1::<i64>().unwrap().into_iter().map(|x| x as u32).collect();
        let from_ref: Vec<u32> = want_sig[..n].iter().map(|&s| map.t(s)).collect();
        let from_ours: Vec<u32> = sig[..n].iter().map(|&s| map.t(s)).collect();
        assert_eq!(from_ref, want_t, "{n} steps");
        assert_eq!(from_ours, want_t, "{n} steps");
    }
    let t64: Vec<i64> = e["sched.t64"].to_vec1().unwrap();
    assert_eq!(&t64[..3], &[865, 849, 833]);
    assert!(t64[49..].iter().all(|&t| t == 0) && t64.len() == 64);
}

fn tiny_settings(steps: usize) -> SamplerSettings {
    SamplerSettings { steps, grid_size: 16, ..SamplerSettings::default() }
}

#[test]
fn guided_heun_sampler_matches_every_step() {
    let e = expected();
    let den = denoiser_from(&weights("denoiser.safetensors"));
    let want_x0 = &e["samp.x0"];
    let calls = want_x0.dims()[0];
    let steps = calls.div_ceil(2);
    let mut got = Vec::new();
    let cancels = vec![CancelToken::new(), CancelToken::new()];
    let out = sampler::sample_heun(
        &den,
        &e["samp.emb"],
        e["samp.x_t"].clone(),
        &cancels,
        &tiny_settings(steps),
        1024,
        &mut |v| {
            assert_eq!((v.call, v.total_calls, v.rows), (got.len() + 1, calls, &[0usize, 1][..]));
            got.push(v.x0.clone());
        },
    )
    .unwrap();
    assert_eq!(got.len(), calls);
    // CFG 15 on a random network amplifies rounding from call to call, so each call's tolerance is
    // the larger of 2e-5 × its scale and 4 × the distance between float32 PyTorch and float64 PyTorch
    // (the fixture's own rounding noise); early calls are therefore held to ~1e-5.
    let check = |what: String, got: &Tensor, want: &Tensor, want64: &Tensor| {
        let (d, scale) = diff(got, want);
        let (floor, _) = diff(want, want64);
        let (d64, _) = diff(got, want64);
        let tol = (2e-5 * scale.max(1.0)).max(4.0 * floor);
        eprintln!("{what}: |ours - torch32| {d:.2e}, |torch32 - torch64| {floor:.2e}, |ours - torch64| {d64:.2e}, tol {tol:.1e}");
        assert!(d <= tol, "{what}: {d:e} > {tol:e}");
        d
    };
    let mut worst = 0f32;
    for (i, x0) in got.iter().enumerate() {
        let d =
            check(format!("x0 of call {:2}", i + 1), x0, &want_x0.get(i).unwrap(), &e["samp.x0_f64"].get(i).unwrap());
        worst = worst.max(d);
    }
    let fin = Tensor::stack(&out.iter().map(|r| r.clone().unwrap()).collect::<Vec<_>>(), 0).unwrap();
    check("final sample".into(), &fin, &e["samp.final"], &e["samp.final_f64"]);
    eprintln!("worst per-call x0 diff {worst:.3e}");
}

#[test]
fn decoder_mlp_matches_diffusers() {
    let e = expected();
    let cfg = ShapEConfig::tiny();
    let dec = ImplicitDecoder::load(&weights("decoder.safetensors"), &cfg.decoder, cfg.denoiser.channels).unwrap();
    let field = dec.field(&Latent(e["dec.latent"].clone())).unwrap();
    let raw = field.query(&e["dec.points"]).unwrap();
    assert_close("decoder raw MLP output", &raw, &e["dec.raw"], 1e-5);
    let pts: Vec<[f32; 3]> =
        e["dec.points"].to_vec2::<f32>().unwrap().into_iter().map(|r| [r[0], r[1], r[2]]).collect();
    let sdf = Tensor::new(field.sdf(&pts).unwrap(), &Device::Cpu).unwrap();
    assert_close("decoder sdf (negated)", &sdf.neg().unwrap(), &e["dec.sdf"], 1e-5);
    let rgb: Vec<f32> =
        field.colours(&pts).unwrap().iter().flat_map(|c| c[..3].iter().map(|&b| f32::from(b) / 255.0)).collect();
    let want_rgb = f32s(&e["dec.rgb"]);
    assert!(rgb.iter().zip(&want_rgb).all(|(a, b)| (a - b).abs() <= 0.5 / 255.0 + 1e-6));
    // The grid: ours is x-fastest and negative inside; the reference is [x][y][z], positive inside.
    let grid = field.grid_dense(16).unwrap();
    let want = e["dec.grid16"].permute((2, 1, 0)).unwrap().neg().unwrap();
    let got = Tensor::new(grid.values.clone(), &Device::Cpu).unwrap();
    assert_close("decoder 16³ grid", &got, &want, 1e-5);
    assert_eq!((grid.dims, grid.origin, grid.spacing), ([16; 3], [-1.0; 3], 2.0 / 15.0));
}

#[test]
fn decoded_tiny_shape_is_closed_and_coarse_to_fine_agrees() {
    let e = expected();
    let model = ShapE::load_on(&pack(), &Device::Cpu, DType::F32).unwrap();
    let latent = Latent(e["dec.latent"].clone());
    let shape = model.decode(&latent, 24).unwrap();
    let m = mesh::marching_cubes::marching_cubes(&shape.grid);
    let report = mesh::validate::validate(&m, None);
    assert!(report.watertight, "{report:?}");
    assert!(m.signed_volume() > 0.0);
    let cols = shape.colours_at(&[[0.0, 0.0, 0.0], [0.5, -0.5, 0.1]]);
    assert_eq!(cols.len(), 2);
    // Coarse to fine keeps every sign of the dense grid.
    let field = model.decoder.field(&latent).unwrap();
    let dense = field.grid_dense(49).unwrap();
    let c2f = field.grid_coarse_to_fine(49, 4).unwrap();
    let flips = dense.values.iter().zip(&c2f.values).filter(|(a, b)| (**a < 0.0) != (**b < 0.0)).count();
    assert_eq!(flips, 0);
    let m2 = mesh::marching_cubes::marching_cubes(&c2f);
    assert!(mesh::validate::validate(&m2, None).watertight);
}

fn run(model: &ShapE, prompts: &[&str], seeds: &[u64], cancel_at: Option<(usize, usize)>) -> Vec<Option<Vec<f32>>> {
    let cancels: Vec<CancelToken> = prompts.iter().map(|_| CancelToken::new()).collect();
    let c2 = cancels.clone();
    let out = model
        .sample(prompts, seeds, &cancels, &tiny_settings(4), &mut |v| {
            if let Some((row, call)) = cancel_at {
                if v.call == call {
                    c2[row].cancel();
                    assert!(v.latent(row).is_some());
                }
            }
        })
        .unwrap();
    out.into_iter().map(|l| l.map(|l| l.to_vec().unwrap())).collect()
}

#[test]
fn batched_rows_match_single_runs_and_cancel_drops_only_that_row() {
    let model = ShapE::load_on(&pack(), &Device::Cpu, DType::F32).unwrap();
    let batch = run(&model, &["a shark", "a red apple"], &[3, 4], None);
    let alone0 = run(&model, &["a shark"], &[3], None);
    let alone1 = run(&model, &["a red apple"], &[4], None);
    let md = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    let d0 = md(batch[0].as_ref().unwrap(), alone0[0].as_ref().unwrap());
    let d1 = md(batch[1].as_ref().unwrap(), alone1[0].as_ref().unwrap());
    eprintln!("batch vs alone: {d0:e}, {d1:e}");
    assert!(d0 <= 1e-6 && d1 <= 1e-6);
    assert!(md(batch[0].as_ref().unwrap(), batch[1].as_ref().unwrap()) > 1e-2);
    let cancelled = run(&model, &["a shark", "a red apple"], &[3, 4], Some((0, 3)));
    assert!(cancelled[0].is_none());
    assert!(md(cancelled[1].as_ref().unwrap(), alone1[0].as_ref().unwrap()) <= 1e-6);
    // Everything cancelled: all None, no error.
    let all = run(&model, &["a shark"], &[3], Some((0, 1)));
    assert!(all[0].is_none());
}

#[test]
fn pack_checks_and_latent_bytes() {
    shap_e::verify_pack(&pack()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_pack(tmp.path(), &[]);
    // A wrong shape is named in words.
    let mut map = candle_core::safetensors::load(tmp.path().join("denoiser.safetensors"), &Device::Cpu).unwrap();
    map.insert("wrapped.pos_emb".into(), Tensor::zeros((3, 3), DType::F16, &Device::Cpu).unwrap());
    candle_core::safetensors::save(&map, tmp.path().join("denoiser.safetensors")).unwrap();
    let err = shap_e::verify_pack(tmp.path()).unwrap_err();
    assert!(err.contains("wrapped.pos_emb") && err.contains("shape"), "{err}");
    std::fs::remove_file(tmp.path().join("decoder.safetensors")).unwrap();
    let err = shap_e::verify_pack(tmp.path()).unwrap_err();
    assert!(err.contains("missing decoder.safetensors"), "{err}");
    // f16 weights load and agree closely with f32.
    let n = shap_e::expected_tensors(&ShapEConfig::tiny()).len();
    assert_eq!(n, 37 + 39 + 26); // CLIP, denoiser, decoder tensors at the tiny sizes

    let l = Latent(Tensor::new(&[0.5f32, -1.25, 3.0], &Device::Cpu).unwrap());
    let back = Latent::from_bytes(&l.to_bytes().unwrap(), 3, &Device::Cpu).unwrap();
    assert_eq!(back.to_vec().unwrap(), vec![0.5, -1.25, 3.0]);
    assert!(Latent::from_bytes(&[0u8; 4], 3, &Device::Cpu).is_err());
}

fn copy_pack(to: &Path, skip: &[&str]) {
    for f in std::fs::read_dir(pack()).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        if !skip.contains(&name.as_str()) {
            std::fs::copy(&f, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn upstream_pickles_and_f16_safetensors_load() {
    let e = expected();
    let reference = ShapE::load_on(&pack(), &Device::Cpu, DType::F32).unwrap();
    let want = reference.denoiser.forward_raw(&e["den.x"], &den_ts(&e), &e["den.emb"]).unwrap();

    // text_cond.pt + transmitter.pt instead of the safetensors (read through candle's pickle reader).
    let tmp = tempfile::tempdir().unwrap();
    copy_pack(tmp.path(), &["denoiser.safetensors", "decoder.safetensors"]);
    for f in ["text_cond.pt", "transmitter.pt"] {
        std::fs::copy(dir().join("pt").join(f), tmp.path().join(f)).unwrap();
    }
    shap_e::verify_pack(tmp.path()).unwrap();
    let m = ShapE::load_on(tmp.path(), &Device::Cpu, DType::F32).unwrap();
    let got = m.denoiser.forward_raw(&e["den.x"], &den_ts(&e), &e["den.emb"]).unwrap();
    assert_eq!(diff(&got, &want).0, 0.0);
    let l = Latent(e["dec.latent"].clone());
    let (a, b) = (m.decode(&l, 12).unwrap().grid.values, reference.decode(&l, 12).unwrap().grid.values);
    assert_eq!(a, b);

    // Every tensor stored as f16: loads, casts to f32, and stays close.
    let tmp = tempfile::tempdir().unwrap();
    copy_pack(tmp.path(), &[]);
    for f in ["denoiser.safetensors", "decoder.safetensors", "clip_text.safetensors"] {
        let map = candle_core::safetensors::load(tmp.path().join(f), &Device::Cpu).unwrap();
        let half: HashMap<String, Tensor> =
            map.into_iter().map(|(k, v)| (k, v.to_dtype(DType::F16).unwrap())).collect();
        candle_core::safetensors::save(&half, tmp.path().join(f)).unwrap();
    }
    shap_e::verify_pack(tmp.path()).unwrap();
    let m = ShapE::load_on(tmp.path(), &Device::Cpu, DType::F32).unwrap();
    let got = m.denoiser.forward_raw(&e["den.x"], &den_ts(&e), &e["den.emb"]).unwrap();
    let (d, scale) = diff(&got, &want);
    eprintln!("f16 weights vs f32: max abs diff {d:.2e}");
    assert!(d > 0.0 && d < 2e-2 * scale.max(1.0));
}

#[test]
fn unguided_runs_and_bad_batches_are_refused() {
    let model = ShapE::load_on(&pack(), &Device::Cpu, DType::F32).unwrap();
    let one = |g: f32| {
        let s = SamplerSettings { guidance: g, ..tiny_settings(3) };
        let mut calls = 0;
        let out = model.sample(&["a fox"], &[5], &[CancelToken::new()], &s, &mut |_| calls += 1).unwrap();
        assert_eq!(calls, 5);
        out[0].as_ref().unwrap().to_vec().unwrap()
    };
    let (unguided, guided) = (one(1.0), one(15.0));
    assert!(unguided.iter().zip(&guided).any(|(a, b)| (a - b).abs() > 1e-3));
    let five = ["a"; 5];
    let c: Vec<CancelToken> = five.iter().map(|_| CancelToken::new()).collect();
    let err = model.sample(&five, &[0; 5], &c, &tiny_settings(2), &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("1 to 4 prompts"), "{err}");
    assert!(model.sample(&["a"], &[0, 1], &c[..1], &tiny_settings(2), &mut |_| {}).is_err());
}

#[test]
fn settings_and_estimate() {
    let low = SamplerSettings::for_quality(genai::Quality::Low);
    let high = SamplerSettings::for_quality(genai::Quality::High);
    assert_eq!((low.steps, low.grid_size, high.steps, high.grid_size), (16, 64, 64, 128));
    assert_eq!(SamplerSettings::default(), SamplerSettings::for_quality(genai::Quality::Medium));
    assert_eq!(high.total_calls(), 127);
    let (a, b) = (shap_e::estimate_seconds_cpu(&low), shap_e::estimate_seconds_cpu(&high));
    assert!(a > 60.0 && b > 3.5 * a, "{a} {b}");
}

/// Real weights, when a pack is installed: `PRINTFARM_SHAP_E_DIR=/path/to/pack cargo test -p genai
/// --release --test shap_e_parity real_weights -- --nocapture`.
#[test]
fn real_weights_shark_is_a_closed_mesh() {
    let Ok(dir) = std::env::var("PRINTFARM_SHAP_E_DIR") else {
        eprintln!("skipped: set PRINTFARM_SHAP_E_DIR to a Shap-E model pack to run the real-weights smoke test");
        return;
    };
    let model = ShapE::load(Path::new(&dir)).unwrap();
    eprintln!("device: {}", model.device_name());
    let settings = SamplerSettings { steps: 16, ..SamplerSettings::for_quality(genai::Quality::Low) };
    let t0 = std::time::Instant::now();
    let out = model
        .sample(&["a shark"], &[0], &[CancelToken::new()], &settings, &mut |v| {
            eprintln!("call {}/{}", v.call, v.total_calls)
        })
        .unwrap();
    eprintln!("sampled in {:.1} s", t0.elapsed().as_secs_f64());
    let shape = model.decode(out[0].as_ref().unwrap(), settings.grid_size).unwrap();
    let m = mesh::marching_cubes::marching_cubes(&shape.grid);
    let report = mesh::validate::validate(&m, None);
    assert!(report.watertight, "{report:?}");
    let bb = m.bounding_box().unwrap();
    let (lo, hi) = (bb.min, bb.max);
    eprintln!("bbox {lo:?} .. {hi:?}, {} triangles", m.triangle_count());
    assert!((0..3).all(|i| hi[i] - lo[i] > 0.2 && lo[i] >= -1.01 && hi[i] <= 1.01));
}
