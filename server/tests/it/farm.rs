//! The farm as a whole: the real server (real SQLite file, real HTTP) drives simulated Marlin boards on
//! pseudo-terminals through the real serial driver. Jobs from several users are sliced, matched to
//! printers by material, colour, size and nozzle, printed, gated by "bed cleared", retried after a
//! printer fails mid-job, and every transition is recorded.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use printers::sim::marlin::Faults;
use serde_json::{json, Value};

/// Generous: a hung test fails instead of hanging, but no pass depends on speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_from_several_users_go_to_the_right_printers_and_survive_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ids = users(dir.path()).await;
    let (_sa, pa) = sim(Faults::default());
    let (_sb, pb) = sim(Faults::default());
    // C's hotend runs away early in its first print.
    let (sc, pc) = sim(Faults { thermal_runaway_after: [40].into(), ..Faults::default() });
    let (_sd, pd) = sim(Faults::default());
    let s = start(dir.path()).await;

    let mut events = s.events().await;

    let pla = s.post("/api/v1/materials", None, json!({ "name": "PLA", "kind": "PLA", "cost_per_kg": 20.0 })).await;
    let petg = s.post("/api/v1/materials", None, json!({ "name": "PETG", "kind": "PETG", "cost_per_kg": 25.0 })).await;
    let (pla, petg) = (pla["id"].as_i64().unwrap(), petg["id"].as_i64().unwrap());
    let a = add_printer(&s, "A", &pa, [220.0, 220.0, 250.0], 0.4, &["room 1"], pla, "Red").await;
    let b = add_printer(&s, "B", &pb, [220.0, 220.0, 250.0], 0.4, &["room 1"], petg, "Blue").await;
    let c = add_printer(&s, "C", &pc, [220.0, 220.0, 250.0], 0.4, &["room 2"], pla, "Red").await;
    let d = add_printer(&s, "D", &pd, [300.0, 300.0, 400.0], 0.6, &["large"], pla, "Red").await;

    let client = s.http.clone();
    let alice_key = s.key("alice").await;
    let upload = |name: &'static str, size: [f32; 3]| {
        let client = client.clone();
        let alice_key = alice_key.clone();
        let url = s.url(&format!("/api/v1/models?name={name}"));
        async move {
            let r = client.post(url).header("x-api-key", alice_key).body(stl(size)).send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap()
        }
    };
    let cube = upload("cube.stl", [15.0, 15.0, 6.0]).await;
    let tower = upload("tower.stl", [10.0, 10.0, 300.0]).await;

    // A model no printer can hold is refused politely before it wastes a slice.
    let (status, body) =
        s.send(reqwest::Method::POST, "/api/v1/models?name=junk.stl", Some("alice"), json!("not a model")).await;
    assert_eq!(status, 422, "{body}");

    let submit = |user: &'static str, body: Value| {
        let s = &s;
        async move {
            let v = s.post("/api/v1/jobs", Some(user), body).await;
            v.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    // Alice (a teacher) sends three red PLA copies; Bob (a student) a blue PETG one, which waits for
    // approval; Alice a tower only the large printer can hold, with its 0.6 mm nozzle.
    let red = submit(
        "alice",
        json!({ "model_version_id": cube, "material_kind": "PLA", "colour": "red", "copies": 3, "quality": "draft" }),
    )
    .await;
    let blue = submit(
        "bob",
        json!({ "model_version_id": cube, "material_kind": "PETG", "colour": "Blue", "quality": "draft" }),
    )
    .await;
    let tall = submit(
        "alice",
        json!({ "model_version_id": tower, "material_kind": "PLA", "quality": "draft", "nozzle_mm": 0.6 }),
    )
    .await;
    assert_eq!(red.len(), 3);
    assert_eq!(job(&s, blue[0]).await["job"]["state"], "awaiting_approval");
    let forecast: Vec<Value> = serde_json::from_value(s.get("/api/v1/queue").await).unwrap();
    // Some copies may already be on a printer; every job still waiting has an estimate or a reason.
    assert!(forecast.iter().any(|e| e["job"]["id"] == blue[0]), "{forecast:?}");
    for e in &forecast {
        assert!(e["start"].is_string() || e["blocked"].is_string(), "{e}");
        assert!(all_ids_contain(&red, &blue, &tall, e["job"]["id"].as_i64().unwrap()));
    }
    let approved =
        s.post(&format!("/api/v1/jobs/{}/approve", blue[0]), Some("carol"), json!({ "reason": "fine" })).await;
    assert_eq!(approved["state"], "queued");

    let all: Vec<i64> = red.iter().chain(&blue).chain(&tall).copied().collect();
    let mut cleared = Vec::new();
    run_to_end(&s, &all, &mut cleared).await;

    // Every job printed, on a printer that fits it.
    let loaded: HashMap<i64, (&str, &str)> =
        [(a, ("PLA", "Red")), (b, ("PETG", "Blue")), (c, ("PLA", "Red")), (d, ("PLA", "Red"))].into();
    for id in &all {
        let j = job(&s, *id).await;
        assert_eq!(j["job"]["state"], "done", "job {id}: {j}");
        let printer = j["job"]["printer_id"].as_i64().unwrap();
        let want = j["job"]["material_kind"].as_str().unwrap();
        assert_eq!(loaded[&printer].0, want, "job {id} went to a printer with other material");
        if let Some(colour) = j["job"]["colour"].as_str() {
            assert!(loaded[&printer].1.eq_ignore_ascii_case(colour), "job {id}: colour");
        }
        let build = match printer {
            p if p == d => "300x300x400",
            _ => "220x220x250",
        };
        let sliced_for = j["job"]["sliced_for"].as_str().unwrap();
        assert!(sliced_for.contains(build), "job {id} printed on {printer} with G-code for {sliced_for}");
        let states: Vec<&str> = j["history"].as_array().unwrap().iter().map(|t| t["to"].as_str().unwrap()).collect();
        assert_eq!(states.first(), Some(&"submitted"));
        assert_eq!(states.last(), Some(&"done"));
        for pair in ["slicing", "ready", "assigned", "printing"] {
            assert!(states.contains(&pair), "job {id} history {states:?}");
        }
    }
    assert_eq!(job(&s, blue[0]).await["job"]["printer_id"], b, "only B has blue PETG");
    assert_eq!(job(&s, tall[0]).await["job"]["printer_id"], d, "only D is tall enough with a 0.6 mm nozzle");
    let blue_history = job(&s, blue[0]).await["history"].clone();
    assert_eq!(blue_history[1]["to"], "awaiting_approval");
    assert_eq!(blue_history[2]["actor_id"], ids["carol"], "the approval is recorded in the teacher's name");

    // C failed mid-print with the printer's own words; the job was retried elsewhere.
    assert!(sc.executed().iter().any(|l| l.starts_with("M104") || l.starts_with("M109")), "C printed something");
    let failed_on_c: Vec<Value> = {
        let mut v = Vec::new();
        for id in &red {
            let j = job(&s, *id).await;
            if j["history"].as_array().unwrap().iter().any(|t| t["to"] == "failed") {
                v.push(j);
            }
        }
        v
    };
    assert_eq!(failed_on_c.len(), 1, "exactly one red job hit C's thermal runaway");
    let f = &failed_on_c[0];
    let failure = f["history"].as_array().unwrap().iter().find(|t| t["to"] == "failed").unwrap();
    assert!(failure["reason"].as_str().unwrap().to_lowercase().contains("thermal runaway"), "{failure}");
    assert_ne!(f["job"]["printer_id"], c, "the retry avoided the printer that failed");
    assert_eq!(f["job"]["attempts"], 2);
    let c_now = s.get(&format!("/api/v1/printers/{c}")).await;
    assert_eq!(c_now["status"]["state"], "error", "C is halted after its thermal runaway: {c_now}");
    assert_eq!(c_now["printer"]["bed_clear"], false, "C waits for a person before it takes another job");
    assert!(!cleared.is_empty(), "printers waited for their beds to be cleared between jobs");

    // Spools lost what was printed; statistics add up.
    let spools: Vec<Value> = serde_json::from_value(s.get("/api/v1/spools").await).unwrap();
    let used: f64 = spools.iter().map(|sp| 1000.0 - sp["remaining_g"].as_f64().unwrap()).sum();
    let mut filament = 0.0;
    for id in &all {
        filament += job(&s, *id).await["job"]["filament_used_g"].as_f64().unwrap();
    }
    assert!(used > 0.5 && (used - filament).abs() < 1e-6, "spools lost {used} g, jobs used {filament} g");
    let stats: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/printers").await).unwrap();
    let runs: i64 = stats.iter().map(|p| p["runs"].as_i64().unwrap()).sum();
    let failed: i64 = stats.iter().map(|p| p["failed"].as_i64().unwrap()).sum();
    assert_eq!((runs, failed), (6, 1), "{stats:?}");
    s.post("/api/v1/groups", None, json!({ "name": "Class 7B", "members": ["alice", "bob"] })).await;
    let classes: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/groups").await).unwrap();
    assert_eq!(classes.len(), 1, "{classes:?}");
    assert_eq!(classes[0]["name"], "Class 7B");
    assert_eq!(classes[0]["jobs_done"], 5, "the class's five prints: {classes:?}");
    assert_eq!(classes[0]["jobs_failed"], 1);
    let utilisation = s.get("/api/v1/stats/utilisation?hours=1").await;
    assert!(utilisation["printers"].as_array().unwrap().iter().any(|p| p["utilisation"].as_f64().unwrap() > 0.0));
    let per_user: Vec<Value> = serde_json::from_value(s.get("/api/v1/stats/users").await).unwrap();
    let alice = per_user.iter().find(|u| u["name"] == "alice").unwrap_or_else(|| panic!("{per_user:?}"));
    assert_eq!(alice["jobs_done"], 4);
    assert!(alice["cost"].as_f64().unwrap() > 0.0);

    // Every change made through the API is in the audit log: who, what, which, from where.
    let audit: Vec<Value> = serde_json::from_value(s.get("/api/v1/audit?limit=1000").await).unwrap();
    let approval = audit
        .iter()
        .find(|e| e["action"] == "POST /api/v1/jobs/{id}/{action}" && e["target_id"] == blue[0])
        .unwrap_or_else(|| panic!("no audited approval in {audit:?}"));
    assert_eq!(approval["actor_id"], ids["carol"]);
    assert_eq!(approval["ip"], "127.0.0.1");
    assert_eq!(approval["detail"]["path"], format!("/api/v1/jobs/{}/approve", blue[0]));
    let clears = audit.iter().filter(|e| e["action"] == "POST /api/v1/printers/{id}/bed-clear").count();
    assert_eq!(clears, cleared.len(), "every bed-clear is audited");
    assert!(audit.iter().all(|e| !e["action"].as_str().unwrap().starts_with("GET ")), "reads are not audited");

    // People were told, in the app and on the live stream.
    let notes: Vec<Value> = serde_json::from_value(s.get("/api/v1/notifications").await).unwrap();
    assert!(notes.iter().any(|n| n["kind"] == "job_failed" && n["message"].as_str().unwrap().contains("tried again")));
    assert!(notes.iter().filter(|n| n["kind"] == "job_done").count() >= 5);
    let mut kinds = std::collections::HashSet::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        if let Ok(v) = serde_json::from_str::<Value>(msg.to_text().unwrap_or("")) {
            kinds.insert(v["type"].as_str().unwrap_or("").to_string());
        }
    }
    for k in ["snapshot", "printer", "job", "queue", "notification"] {
        assert!(kinds.contains(k), "no {k} event on the stream: {kinds:?}");
    }
    s.stop().await;
}

fn all_ids_contain(red: &[i64], blue: &[i64], tall: &[i64], id: i64) -> bool {
    red.contains(&id) || blue.contains(&id) || tall.contains(&id)
}
