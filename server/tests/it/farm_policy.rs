//! The farm's policies against the real server and simulated Marlin boards on pseudo-terminals:
//! staggered starts, quiet hours, filament warnings, the webhook and maintenance reminders.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Json;
use chrono::{Timelike, Utc};
use common::*;
use printers::sim::marlin::Faults;
use serde_json::{json, Value};

async fn printers(s: &Running) -> Vec<Value> {
    serde_json::from_value(s.get("/api/v1/printers").await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_more_printers_heat_at_once_than_the_breaker_allows() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    // Slow enough that heating takes a few seconds of real time on each board.
    let boards: Vec<_> = (0..3).map(|_| sim_at(60.0, Faults::default())).collect();
    let s = start(dir.path()).await;
    let pla = material(&s, "PLA").await;
    for (i, (_, pty)) in boards.iter().enumerate() {
        let id = add_printer(&s, &format!("P{i}"), pty, [220.0, 220.0, 250.0], 0.4, &[], pla, "Red").await;
        s.send(reqwest::Method::PATCH, &format!("/api/v1/printers/{id}"), None, json!({ "require_bed_clear": false }))
            .await;
    }
    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "max_heating": 1 })).await;
    let model = upload(&s, "disc.stl", [10.0, 10.0, 1.0], "alice").await;
    let jobs: Vec<i64> = s
        .post("/api/v1/jobs", Some("alice"), json!({ "model_version_id": model, "copies": 3, "quality": "draft" }))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();

    // While the jobs run, never more than one printer is on its way to temperature.
    let mut max_seen = 0;
    let mut seen_printing = std::collections::HashSet::new();
    wait_until("all three copies to finish", async || {
        let heating = printers(&s)
            .await
            .iter()
            .filter(|p| {
                let below = |t: &Value| {
                    let target = t["target"].as_f64().unwrap();
                    target > 0.0 && t["actual"].as_f64().unwrap() < target - 5.0
                };
                if p["state"] == "printing" {
                    seen_printing.insert(p["id"].as_i64().unwrap());
                }
                p["state"] == "printing" && (below(&p["hotend"]) || below(&p["bed"]))
            })
            .count();
        max_seen = max_seen.max(heating);
        let mut done = 0;
        for id in &jobs {
            done += (job(&s, *id).await["job"]["state"] == "done") as usize;
        }
        done == jobs.len()
    })
    .await;
    assert_eq!(max_seen, 1, "heating printers at once");
    // The three copies were sliced once: their G-code files are one file.
    let inode = |id: &i64| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(dir.path().join(format!("gcode/job-{id}.gcode"))).unwrap().ino()
    };
    assert!(jobs.iter().all(|id| inode(id) == inode(&jobs[0])), "copies share one slice");
    assert!(seen_printing.len() >= 2, "the copies spread over the printers: {seen_printing:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quiet_hours_hold_starts_and_the_forecast_says_until_when() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let (_board, pty) = sim(Faults::default());
    let s = start(dir.path()).await;
    let pla = material(&s, "PLA").await;
    add_printer(&s, "Quiet", &pty, [220.0, 220.0, 250.0], 0.4, &[], pla, "Red").await;
    // A quiet window that opened this minute and lasts ten minutes.
    let now = Utc::now();
    let cron = format!("0 {} {} * * *", now.minute(), now.hour());
    let window = s
        .post(
            "/api/v1/farm/windows",
            None,
            json!({ "kind": "quiet", "cron": cron, "duration_min": 10, "label": "lessons" }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = s
        .send(
            reqwest::Method::POST,
            "/api/v1/farm/windows",
            None,
            json!({ "kind": "quiet", "cron": "teatime", "duration_min": 5 }),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let model = upload(&s, "tag.stl", [20.0, 10.0, 2.0], "alice").await;
    let id = s.post("/api/v1/jobs", Some("alice"), json!({ "model_version_id": model, "quality": "draft" })).await[0]
        ["id"]
        .as_i64()
        .unwrap();
    wait_until("the job to be sliced", async || job(&s, id).await["job"]["state"] == "ready").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(job(&s, id).await["job"]["state"], "ready", "nothing starts in quiet hours");
    let queue: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
    let start_at = chrono::DateTime::parse_from_rfc3339(queue[0]["start"].as_str().unwrap()).unwrap();
    assert!(
        start_at.timestamp() >= now.timestamp() - 60 + 9 * 60,
        "the forecast waits for the window to close: {queue:?}"
    );

    // Quiet hours end, but the printer's maintenance window holds it a while longer.
    let printer_id = s.get("/api/v1/printers").await[0]["id"].as_i64().unwrap();
    let service = s
        .post(
            "/api/v1/farm/windows",
            None,
            json!({ "kind": "maintenance", "cron": cron, "duration_min": 10, "printer_id": printer_id, "label": "nozzle swap" }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    s.send(reqwest::Method::DELETE, &format!("/api/v1/farm/windows/{window}"), None, json!(null)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(job(&s, id).await["job"]["state"], "ready", "nothing starts on a printer in maintenance");
    s.send(reqwest::Method::DELETE, &format!("/api/v1/farm/windows/{service}"), None, json!(null)).await;
    wait_until("the job to finish once the windows are gone", async || job(&s, id).await["job"]["state"] == "done")
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn low_spools_warn_the_webhook_hears_and_maintenance_comes_due() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    // A chat relay stand-in that records what the farm posts.
    let heard: Arc<Mutex<Vec<Value>>> = Arc::default();
    let h = heard.clone();
    let hook = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| {
            let h = h.clone();
            async move {
                h.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });

    let (_board, pty) = sim(Faults::default());
    let s = start(dir.path()).await;
    s.send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "webhook_url": hook_url })).await;
    let (status, _) = s
        .send(reqwest::Method::PUT, "/api/v1/farm/settings", None, json!({ "webhook_url": "file:///etc/passwd" }))
        .await;
    assert_eq!(status, 400);
    let pla = material(&s, "PLA").await;
    let printer = add_printer(&s, "Mk3", &pty, [220.0, 220.0, 250.0], 0.4, &[], pla, "Red").await;
    s.post(
        &format!("/api/v1/printers/{printer}/maintenance"),
        None,
        json!({ "name": "Lubricate rails", "every_hours": 0.00001 }),
    )
    .await;
    let spools: Vec<Value> = serde_json::from_value(s.get("/api/v1/spools").await).unwrap();
    let spool = spools[0]["id"].as_i64().unwrap();
    s.send(reqwest::Method::PATCH, &format!("/api/v1/spools/{spool}"), None, json!({ "remaining_g": 0.05 })).await;

    let model = upload(&s, "plate.stl", [30.0, 30.0, 3.0], "alice").await;
    let id = s
        .post(
            "/api/v1/jobs",
            Some("alice"),
            json!({ "model_version_id": model, "material_kind": "PLA", "quality": "draft" }),
        )
        .await[0]["id"]
        .as_i64()
        .unwrap();
    // Sliced, then held: the spool cannot cover it, and people are told why.
    wait_until("a filament warning", async || {
        let notes: Vec<Value> = serde_json::from_value(s.get("/api/v1/notifications").await).unwrap();
        notes.iter().any(|n| n["kind"] == "low_filament" && n["job_id"] == id)
    })
    .await;
    let held = job(&s, id).await;
    assert_eq!(held["job"]["state"], "ready");
    assert!(held["job"]["error"].as_str().unwrap().contains("left on its spool"), "{held}");
    let queue: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
    assert!(queue[0]["blocked"].as_str().unwrap().contains("left on its spool"), "{queue:?}");

    // A new spool is weighed in; the job prints and the farm reports it.
    s.send(reqwest::Method::PATCH, &format!("/api/v1/spools/{spool}"), None, json!({ "remaining_g": 750.0 })).await;
    wait_until("the job to finish", async || job(&s, id).await["job"]["state"] == "done").await;
    wait_until("the webhook to hear about it", async || {
        heard.lock().unwrap().iter().any(|v| v["event"] == "job_done" && v["job_id"] == id)
    })
    .await;
    let notes: Vec<Value> = serde_json::from_value(s.get("/api/v1/notifications").await).unwrap();
    assert!(notes
        .iter()
        .any(|n| n["kind"] == "maintenance_due" && n["message"].as_str().unwrap().contains("Lubricate")));
    let tasks: Vec<Value> =
        serde_json::from_value(s.get(&format!("/api/v1/maintenance?printer={printer}")).await).unwrap();
    assert_eq!(tasks[0]["due"], true);
    let task = tasks[0]["task"]["id"].as_i64().unwrap();
    s.post(&format!("/api/v1/maintenance/{task}/done"), None, json!({})).await;
    let tasks: Vec<Value> =
        serde_json::from_value(s.get(&format!("/api/v1/maintenance?printer={printer}")).await).unwrap();
    assert_eq!(tasks[0]["due"], false, "done resets the counter");
    let stats: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/printers").await).unwrap();
    assert!(stats[0]["print_hours"].as_f64().unwrap() > 0.0 && stats[0]["done"] == 1, "{stats:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_resume_cancel_and_reject_are_recorded_and_reach_the_printer() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let (board, pty) = sim_at(5.0, Faults::default());
    let s = start(dir.path()).await;
    let pla = material(&s, "PLA").await;
    let printer = add_printer(&s, "Slow", &pty, [220.0, 220.0, 250.0], 0.4, &[], pla, "Red").await;
    let model = upload(&s, "plate.stl", [40.0, 40.0, 4.0], "alice").await;
    let submit = async |user: &str| {
        s.post("/api/v1/jobs", Some(user), json!({ "model_version_id": model, "quality": "draft" })).await[0]["id"]
            .as_i64()
            .unwrap()
    };
    let first = submit("alice").await;
    let queued = submit("alice").await;
    let students = submit("bob").await;
    assert_eq!(job(&s, students).await["job"]["state"], "awaiting_approval");
    let rejected =
        s.post(&format!("/api/v1/jobs/{students}/reject"), Some("carol"), json!({ "reason": "too big" })).await;
    assert_eq!(rejected["state"], "cancelled");
    let (status, body) =
        s.send(reqwest::Method::POST, &format!("/api/v1/jobs/{students}/approve"), Some("carol"), json!({})).await;
    assert_eq!(status, 409, "a rejected job cannot be approved: {body}");

    let state = async |id: i64| job(&s, id).await["job"]["state"].as_str().unwrap().to_string();
    wait_until("the first job to print", async || {
        let j = job(&s, first).await;
        j["job"]["state"] == "printing" && j["job"]["progress"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
    s.post(&format!("/api/v1/jobs/{first}/pause"), Some("carol"), json!({})).await;
    wait_until("the job to be paused", async || state(first).await == "paused").await;
    s.post(&format!("/api/v1/jobs/{first}/resume"), Some("carol"), json!({})).await;
    wait_until("the job to print again", async || state(first).await == "printing").await;
    s.post(&format!("/api/v1/jobs/{queued}/cancel"), Some("alice"), json!({})).await;
    assert_eq!(state(queued).await, "cancelled", "a waiting job is cancelled at once");
    s.post(&format!("/api/v1/jobs/{first}/cancel"), Some("alice"), json!({ "reason": "wrong file" })).await;
    wait_until("the print to be cancelled", async || state(first).await == "cancelled").await;

    let j = job(&s, first).await;
    let states: Vec<&str> = j["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(&states[states.len() - 4..], ["printing", "paused", "printing", "cancelled"], "{states:?}");
    assert_eq!(j["job"]["attempts"], 1, "a cancelled job is not retried");
    wait_until("the cancel to switch the hotend off", async || {
        board.executed().iter().any(|l| l.starts_with("M104 S0"))
    })
    .await;
    let p = s.get(&format!("/api/v1/printers/{printer}")).await;
    assert_eq!(p["printer"]["bed_clear"], false, "a cancelled print leaves the bed to be cleared");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_served_fairly_by_priority_and_a_manager_can_reorder_it() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    // No printers yet: everything waits, and the queue shows its order and why it waits.
    let s = start(dir.path()).await;
    let model = upload(&s, "clip.stl", [20.0, 10.0, 5.0], "alice").await;
    let submit = async |user: &str, body: Value| -> Vec<i64> {
        let v = s.post("/api/v1/jobs", Some(user), body).await;
        v.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect()
    };
    let alice = submit("alice", json!({ "model_version_id": model, "copies": 4 })).await;
    let carol = submit("carol", json!({ "model_version_id": model, "copies": 2 })).await;
    let order = async || -> Vec<i64> {
        let q: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
        q.iter().map(|e| e["job"]["id"].as_i64().unwrap()).collect()
    };
    // Round-robin: Alice's four copies do not all go before Carol's two.
    assert_eq!(order().await, [alice[0], carol[0], alice[1], carol[1], alice[2], alice[3]]);
    let q: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
    assert!(q.iter().all(|e| e["blocked"].as_str().is_some_and(|b| !b.is_empty())), "{q:?}");

    // An urgent job jumps the queue; a manager moves Alice's last copy to the front of its priority.
    let urgent = submit("alice", json!({ "model_version_id": model, "priority": 5 })).await;
    assert_eq!(order().await[0], urgent[0]);
    let moved = s
        .send(reqwest::Method::PATCH, &format!("/api/v1/jobs/{}", alice[3]), None, json!({ "before": alice[0] }))
        .await;
    assert_eq!(moved.0, 200, "{}", moved.1);
    let now = order().await;
    assert_eq!(&now[..3], [urgent[0], alice[3], carol[0]], "{now:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plate_of_several_models_prints_as_one_job() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let (_board, pty) = sim(Faults::default());
    let s = start(dir.path()).await;
    let pla = material(&s, "PLA").await;
    add_printer(&s, "Plate", &pty, [220.0, 220.0, 250.0], 0.4, &[], pla, "Red").await;
    let gear = upload(&s, "gear.stl", [30.0, 30.0, 5.0], "alice").await;
    let clip = upload(&s, "clip.stl", [20.0, 8.0, 4.0], "alice").await;
    let id = s
        .post(
            "/api/v1/jobs",
            Some("alice"),
            json!({ "model_version_id": gear, "plate": [clip, clip], "quality": "draft" }),
        )
        .await[0]["id"]
        .as_i64()
        .unwrap();
    let j = job(&s, id).await;
    let size: Vec<f64> = serde_json::from_value(j["job"]["size_mm"].clone()).unwrap();
    assert!(size[0] >= 30.0 + 6.0 && size[2] == 5.0, "the plate is sized as packed: {size:?}");
    wait_until("the plate to print", async || job(&s, id).await["job"]["state"] == "done").await;
    let gcode =
        std::fs::read_to_string(dir.path().join(job(&s, id).await["job"]["gcode_path"].as_str().unwrap())).unwrap();
    // Three objects, labelled so a host can cancel one of them alone.
    assert!(gcode.contains("M486 T3"), "three objects on the plate");
    for label in ["A\"gear_id", "A\"clip_id"] {
        assert!(gcode.contains(label), "an object labelled {label}");
    }

    // Twenty big parts fit no bed together: the job waits and says why, it is not sliced to fail.
    let big = upload(&s, "panel.stl", [100.0, 100.0, 3.0], "alice").await;
    let too_many = s
        .post(
            "/api/v1/jobs",
            Some("alice"),
            json!({ "model_version_id": big, "plate": vec![big; 19], "quality": "draft" }),
        )
        .await[0]["id"]
        .as_i64()
        .unwrap();
    wait_until("the oversized plate to be explained", async || {
        job(&s, too_many).await["job"]["error"].as_str().is_some_and(|e| e.contains("too big"))
    })
    .await;
    assert_eq!(job(&s, too_many).await["job"]["state"], "queued");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_printer_with_a_wrong_port_is_fixed_by_changing_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    let (_board, pty) = sim(Faults::default());
    let s = start(dir.path()).await;
    let id = s
        .post(
            "/api/v1/printers",
            None,
            json!({ "name": "Typo", "driver": "marlin", "connection": { "port": "/dev/ttyNOPE0" }, "build_mm": [200, 200, 200] }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    wait_until("the wrong port to show as an error", async || {
        let p = s.get(&format!("/api/v1/printers/{id}")).await;
        p["status"]["state"] == "error" && p["status"]["message"].as_str().is_some_and(|m| m.contains("ttyNOPE0"))
    })
    .await;
    let model = upload(&s, "tag.stl", [20.0, 10.0, 2.0], "alice").await;
    let job_id = s.post("/api/v1/jobs", Some("alice"), json!({ "model_version_id": model, "quality": "draft" })).await
        [0]["id"]
        .as_i64()
        .unwrap();
    let (status, body) =
        s.send(reqwest::Method::PATCH, &format!("/api/v1/printers/{id}"), None, json!({ "connection": "usb" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/printers/{id}"),
            None,
            json!({ "connection": { "port": pty.path.to_string_lossy() } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until("the job to print once the printer answers", async || job(&s, job_id).await["job"]["state"] == "done")
        .await;
    let printers: Vec<Value> = serde_json::from_value(s.get("/api/v1/printers").await).unwrap();
    assert_eq!(printers.len(), 1, "reconnecting does not duplicate the printer");
    let record = s.get(&format!("/api/v1/printers/{id}")).await;
    assert!(record["printer"].get("connection").is_none(), "connection settings are never sent to browsers: {record}");
    s.stop().await;
}
