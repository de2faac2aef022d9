//! Generation as a service against the real server on a real SQLite file: prompt → queued → a printable
//! model in the library with a thumbnail; the cache, suggestions, the blocklist, quotas, cancelling,
//! progress over server-sent events, approval of AI output, and recovery after a restart.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use server::db::{Db, GenerationState, NewGeneration};

async fn generation(s: &Running, id: i64) -> Value {
    s.get(&format!("/api/v1/generations/{id}")).await
}

async fn wait_done(s: &Running, id: i64) -> Value {
    let mut last = Value::Null;
    wait_until("the generation to finish", async || {
        last = generation(s, id).await;
        matches!(last["state"].as_str(), Some("done" | "failed" | "cancelled"))
    })
    .await;
    assert_eq!(last["state"], "done", "{last}");
    last
}

async fn bytes(s: &Running, path: &str) -> (u16, Vec<u8>) {
    let r = s.http.get(s.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_becomes_a_printable_model_in_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let ids = users(dir.path()).await;
    let s = start(dir.path()).await;

    let (status, body) = s
        .send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a name tag for Maya" }))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["outcome"], "queued");
    let g = &body["generations"][0];
    assert_eq!(g["tier"], "procedural");
    assert_eq!(g["template"], "name-tag");
    assert_eq!(g["user_id"], ids["bob"]);
    let done = wait_done(&s, g["id"].as_i64().unwrap()).await;
    assert_eq!(done["cached"], false);

    let version = done["model_version_id"].as_i64().unwrap();
    let v = s.get(&format!("/api/v1/models/versions/{version}")).await;
    assert!(v["name"].as_str().unwrap().contains("Maya"), "{v}");
    assert_eq!(v["format"], "3mf");
    assert_eq!(v["owner_id"], ids["bob"]);

    // The file is a printable 3MF and the thumbnail a PNG.
    let (status, file) = bytes(&s, &format!("/api/v1/models/versions/{version}/file")).await;
    assert_eq!(status, 200);
    let model = mesh::io::read(&file, Some("x.3mf"), &mesh::io::Limits::default()).unwrap();
    let report = mesh::validate::validate(&model.merged(), Some([180.0, 180.0, 180.0]));
    assert!(report.printable, "{:?}", report.reasons);
    let (status, png) = bytes(&s, &format!("/api/v1/models/versions/{version}/thumbnail.png")).await;
    assert_eq!(status, 200);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // Its time is in the metrics.
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let count = metrics
        .lines()
        .find_map(|l| l.strip_prefix("printfarm_generation_duration_seconds_count{engine=\"procedural\"} "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(count.is_some_and(|n| n >= 1), "{metrics}");

    // It is listed among bob's generations, not alice's.
    let mine = s.http.get(s.url("/api/v1/generations")).header("x-api-key", s.key("bob").await).send().await.unwrap();
    let mine: Vec<Value> = mine.json().await.unwrap();
    assert_eq!(mine.len(), 1);
    let theirs =
        s.http.get(s.url("/api/v1/generations")).header("x-api-key", s.key("alice").await).send().await.unwrap();
    assert!(theirs.json::<Vec<Value>>().await.unwrap().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_prompt_is_answered_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let ids = users(dir.path()).await;
    let s = start(dir.path()).await;
    let first = s.post("/api/v1/generations", Some("bob"), json!({ "prompt": "a pencil cup" })).await;
    let first = wait_done(&s, first["generations"][0]["id"].as_i64().unwrap()).await;

    // The same request, worded with other spacing and case, by someone else: done at once.
    let again = s.post("/api/v1/generations", Some("alice"), json!({ "prompt": "  A   pencil CUP " })).await;
    let g = &again["generations"][0];
    assert_eq!(g["state"], "done", "{again}");
    assert_eq!(g["cached"], true);
    assert_eq!(g["model_version_id"], first["model_version_id"], "the same stored file");
    assert_ne!(g["model_id"], first["model_id"], "but a model of alice's own");
    let model = s.get(&format!("/api/v1/models/versions/{}", g["model_version_id"])).await;
    assert_eq!(model["owner_id"], ids["bob"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_no_design_matches_offers_the_closest_designs() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let s = start(dir.path()).await;
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a dragon" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "choose");
    assert!(body["reason"].as_str().unwrap().contains("AI model"), "says why the AI tier is not used: {body}");
    let suggestions = body["suggestions"].as_array().unwrap();
    assert!(suggestions.len() >= 3, "{body}");
    let pick = suggestions[0]["template"].as_str().unwrap();

    let chosen = s.post("/api/v1/generations", Some("bob"), json!({ "prompt": "a dragon", "template": pick })).await;
    assert_eq!(chosen["generations"][0]["template"], pick);
    wait_done(&s, chosen["generations"][0]["id"].as_i64().unwrap()).await;

    // An unknown design is a clear 400; the templates list says what exists.
    let (status, body) = s
        .send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "x", "template": "rocket" }))
        .await;
    assert_eq!(status, 400, "{body}");
    let templates = s.get("/api/v1/generations/templates").await;
    assert!(templates.as_array().unwrap().len() >= 14);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_words_quotas_and_missing_models_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let s = start(dir.path()).await;

    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a toy gun" })).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("gun"), "{body}");

    let (status, body) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/generations",
            Some("bob"),
            json!({ "prompt": "a shark", "tier": "shap-e" }),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("model pack"), "{body}");
    let status = s.get("/api/v1/generations/status").await;
    assert_eq!(status["shap_e"]["state"], "not-installed");

    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "   " })).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": 7 })).await;
    assert_eq!(status, 400);

    // Two per hour for makers: the third is refused with a sentence, teachers are not affected.
    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "generation_quota_per_hour": { "maker": 2 } }))
        .await;
    // The refused prompts above were not counted (they never became requests).
    for prompt in ["a coaster", "a bookmark"] {
        let (status, body) =
            s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": prompt })).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a ruler" })).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().unwrap().contains("last hour"), "{body}");
    let (status, _) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("alice"), json!({ "prompt": "a ruler" })).await;
    assert_eq!(status, 202);
    // A teacher may give one maker more than the role's limit.
    let (status, body) = s
        .send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "generation_quota_users": { "bob": 3 } }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a ruler" })).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/generations", Some("bob"), json!({ "prompt": "a spoon" })).await;
    assert_eq!(status, 429, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_streams_as_server_sent_events_until_done() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let s = start(dir.path()).await;
    let g = s.post("/api/v1/generations", Some("bob"), json!({ "prompt": "a gear with 24 teeth" })).await;
    let id = g["generations"][0]["id"].as_i64().unwrap();
    let r = s.http.get(s.url(&format!("/api/v1/generations/{id}/events"))).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    // The stream ends by itself once the request is final.
    let text = tokio::time::timeout(Duration::from_secs(60), r.text()).await.expect("the stream ends").unwrap();
    let events: Vec<Value> =
        text.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| serde_json::from_str(d.trim()).unwrap()).collect();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["id"] == id));
    assert_eq!(events.last().unwrap()["state"], "done", "{text}");
    assert!(events.last().unwrap()["model_version_id"].is_i64());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_asker_or_a_teacher_can_cancel() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let db = Db::open(dir.path()).await.unwrap();
    db.users()
        .insert(&server::db::NewUser {
            username: "dave".into(),
            display_name: "Dave".into(),
            role: server::db::Role::Maker,
            password_hash: None,
        })
        .await
        .unwrap();
    db.close().await;
    // Queue a request behind the server's back so it is still queued when we cancel (no worker yet).
    let db = Db::open(dir.path()).await.unwrap();
    let bob = db.users().by_username("bob").await.unwrap().unwrap().id;
    let ids = db
        .generations()
        .submit(&[NewGeneration {
            user_id: Some(bob),
            prompt: "a coaster".into(),
            normalised_prompt: "a coaster".into(),
            quality: "medium".into(),
            seed: 1,
            tier: "shap-e".into(),
            template: None,
            params: json!({}),
            size_mm: None,
            cache_key: "k".into(),
        }])
        .await
        .unwrap();
    db.close().await;
    let s = start(dir.path()).await;
    let path = format!("/api/v1/generations/{}/cancel", ids[0]);
    let (status, body) = s.send(reqwest::Method::POST, &path, Some("dave"), json!({})).await;
    assert_eq!(status, 403, "another maker may not: {body}");
    let (status, body) = s.send(reqwest::Method::POST, &path, Some("bob"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "cancelled");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_interrupted_by_a_restart_are_finished_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let ids = users(dir.path()).await;
    let db = Db::open(dir.path()).await.unwrap();
    let id = db
        .generations()
        .submit(&[NewGeneration {
            user_id: Some(ids["bob"]),
            prompt: "a coaster".into(),
            normalised_prompt: "a coaster".into(),
            quality: "medium".into(),
            seed: 1,
            tier: "procedural".into(),
            template: Some("coaster".into()),
            params: json!({}),
            size_mm: None,
            cache_key: "restart-test".into(),
        }])
        .await
        .unwrap()[0];
    // It was running when the server died.
    assert!(db.generations().start(id, 1).await.unwrap());
    assert_eq!(db.generations().get(id).await.unwrap().state, GenerationState::Running);
    db.close().await;

    let s = start(dir.path()).await;
    let done = wait_done(&s, id).await;
    assert!(done["model_version_id"].is_i64());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_output_waits_for_a_teacher_before_printing() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let s = start(dir.path()).await;
    // Makers' jobs would need approval anyway by default; take that rule away to see the AI rule alone.
    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "approval_roles": [] })).await;
    let plain = upload(&s, "plain.stl", [10.0, 10.0, 5.0], "bob").await;
    let ai = upload(&s, "shark.stl", [10.0, 10.0, 5.0], "bob").await;
    let db = Db::open(dir.path()).await.unwrap();
    db.generations().mark_version(ai, "shap-e").await.unwrap();
    db.close().await;

    let state = |v: &Value| v[0]["state"].as_str().unwrap().to_string();
    let job = s.post("/api/v1/jobs", Some("bob"), json!({ "model_version_id": plain })).await;
    assert_eq!(state(&job), "queued");
    let job = s.post("/api/v1/jobs", Some("bob"), json!({ "model_version_id": ai })).await;
    assert_eq!(state(&job), "awaiting_approval");
    let job = s.post("/api/v1/jobs", Some("alice"), json!({ "model_version_id": ai })).await;
    assert_eq!(state(&job), "queued", "a teacher's own job is approved by sending it");

    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "approve_ai_output": false })).await;
    let job = s.post("/api/v1/jobs", Some("bob"), json!({ "model_version_id": ai })).await;
    assert_eq!(state(&job), "queued");
    s.stop().await;
}

/// The tiny random-weight Shap-E pack the parity tests use, with a manifest, as a USB stick would hold it.
fn tiny_pack(into: &std::path::Path) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/genai/tests/fixtures/shap_e/pack");
    let pack = into.join("stick/shap-e-tiny");
    std::fs::create_dir_all(&pack).unwrap();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        std::fs::write(pack.join(&name), &bytes).unwrap();
        let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        files.push(json!({ "path": name, "bytes": bytes.len(), "sha256": sha }));
    }
    let manifest = json!({ "format": 1, "id": "shap-e-tiny", "version": "0.1.0", "name": "Shap-E (tiny test weights)", "licence": "MIT", "files": files });
    std::fs::write(pack.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    pack
}

/// Installs the pack with `printfarm models install`, then serves Shap-E on the CPU (an admin's opt-in):
/// two people's prompts share one sampler loop, four variations are one batch, progress streams, and a
/// repeated prompt with the same seed comes from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shap_e_requests_are_batched_and_cached_with_an_installed_pack() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let pack = tiny_pack(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_printfarm"))
        .args(["models", "install"])
        .arg(&pack)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_printfarm"))
        .args(["models", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("* shap-e-tiny-0.1.0"), "{list:?}");

    // No GPU here: the pack is installed but needs the admin's CPU opt-in.
    let s = start(dir.path()).await;
    wait_until("the engine to load", async || {
        s.get("/api/v1/generations/status").await["shap_e"]["state"] == "needs-gpu"
    })
    .await;
    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "shap_e_on_cpu": true })).await;
    wait_until("the engine to load on the CPU", async || {
        s.get("/api/v1/generations/status").await["shap_e"]["state"] == "ready"
    })
    .await;

    let ask = |user: &'static str, prompt: &'static str, variations: u8| {
        let s = &s;
        async move {
            let (status, body) = s
                .send(
                    reqwest::Method::POST,
                    "/api/v1/generations",
                    Some(user),
                    json!({ "prompt": prompt, "tier": "shap-e", "quality": "low", "seed": 7, "variations": variations, "size_mm": 10 }),
                )
                .await;
            assert_eq!(status, 202, "{body}");
            body["generations"].as_array().unwrap().iter().map(|g| g["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    let (a, b) = tokio::join!(ask("bob", "a shark", 1), ask("alice", "a chair", 1));
    let four = ask("carol", "a lamp", 4).await;
    assert_eq!(four.len(), 4);
    // While carol's batch samples, its coarse previews stream: each is a model (GLB) and a picture (PNG).
    let mut events = s.http.get(s.url(&format!("/api/v1/generations/{}/events", four[0]))).send().await.unwrap();
    let (mut seen, mut picture) = (String::new(), None);
    while let Some(chunk) =
        tokio::time::timeout(Duration::from_secs(300), events.chunk()).await.expect("events").unwrap()
    {
        seen.push_str(&String::from_utf8_lossy(&chunk));
        let latest = seen
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .next_back();
        if latest.is_some_and(|e| e["state"] == "running" && e["preview"].as_u64().unwrap_or(0) >= 1) {
            picture = Some(bytes(&s, &format!("/api/v1/generations/{}/preview.png", four[0])).await);
            break;
        }
    }
    let (status, png) = picture.unwrap_or_else(|| panic!("no preview while it ran: {seen}"));
    assert_eq!(status, 200);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    drop(events);
    let mut times = Vec::new();
    for id in a.iter().chain(&b).chain(&four) {
        let g = wait_any_end(&s, *id).await;
        assert_eq!(g["tier"], "shap-e");
        if g["state"] == "done" {
            let v = s.get(&format!("/api/v1/models/versions/{}", g["model_version_id"])).await;
            assert!(v["triangles"].as_i64().unwrap() > 0);
        } else {
            // Random tiny weights may make nothing solid; then the person gets a sentence, not a crash.
            assert_eq!(g["state"], "failed", "{g}");
            assert!(g["error"].as_str().unwrap().len() > 20, "{g}");
        }
        times.push((g["started_at"].as_str().unwrap().to_string(), g["finished_at"].as_str().unwrap().to_string()));
    }
    // Requests that share a sampler loop all start before any of them finishes (run one after another,
    // each would start after the previous one ended): bob's and alice's together, then carol's four.
    let shared = |group: &[(String, String)]| {
        let last_start = group.iter().map(|t| &t.0).max().unwrap();
        let first_end = group.iter().map(|t| &t.1).min().unwrap();
        last_start < first_end
    };
    assert!(shared(&times[..2]), "{times:?}");
    assert!(shared(&times[2..]), "{times:?}");
    assert!(times[2..].iter().all(|t| t.0 >= times[0].1), "carol's batch is a second loop: {times:?}");
    // Each variation has its own seed.
    let seeds: std::collections::HashSet<i64> = futures_seeds(&s, &four).await.into_iter().collect();
    assert_eq!(seeds.len(), 4);

    // The same prompt, seed and quality again: answered from the cache when the first one was made.
    let first = generation(&s, a[0]).await;
    if first["state"] == "done" {
        let again = ask("alice", "a shark", 1).await;
        let g = generation(&s, again[0]).await;
        assert_eq!(g["state"], "done");
        assert_eq!(g["cached"], true);
    }
    s.stop().await;
}

async fn wait_any_end(s: &Running, id: i64) -> Value {
    let mut last = Value::Null;
    wait_until("the generation to end", async || {
        last = generation(s, id).await;
        matches!(last["state"].as_str(), Some("done" | "failed" | "cancelled"))
    })
    .await;
    last
}

async fn futures_seeds(s: &Running, ids: &[i64]) -> Vec<i64> {
    let mut out = Vec::new();
    for id in ids {
        out.push(generation(s, *id).await["seed"].as_i64().unwrap());
    }
    out
}
