//! The queue forecast is shared between everyone asking at once (it is the farm's most asked-for
//! answer), yet whoever changes the queue sees the change in their very next read.

use crate::common;

use common::*;
use serde_json::{json, Value};

fn ids(queue: &Value) -> Vec<i64> {
    queue.as_array().unwrap().iter().map(|e| e["job"]["id"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_shows_in_the_next_read_and_concurrent_reads_agree() {
    let dir = tempfile::tempdir().unwrap();
    users(dir.path()).await;
    // No printers: every job waits, so the queue only changes when we change it.
    let s = start(dir.path()).await;
    let cube = upload(&s, "cube.stl", [10.0, 10.0, 10.0], "alice").await;

    let mut submitted = Vec::new();
    for i in 0..6 {
        let job =
            s.post("/api/v1/jobs", Some("alice"), json!({ "model_version_id": cube, "name": format!("c{i}") })).await;
        submitted.push(job[0]["id"].as_i64().unwrap());
        // Read straight after the write: the new job is there, although a forecast was just computed.
        assert_eq!(ids(&s.get("/api/v1/queue").await), submitted, "after submitting job {i}");
    }

    // Moving the last job to the front shows at once too.
    let last = *submitted.last().unwrap();
    let (status, body) =
        s.send(reqwest::Method::PATCH, &format!("/api/v1/jobs/{last}"), None, json!({ "before": submitted[0] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&s.get("/api/v1/queue").await)[0], last);

    // Cancelling takes it out at once.
    s.post(&format!("/api/v1/jobs/{last}/cancel"), None, json!({})).await;
    assert!(!ids(&s.get("/api/v1/queue").await).contains(&last));

    // Fifty people at once all get the same, current answer.
    let answers = futures::future::join_all((0..50).map(|_| s.get("/api/v1/queue"))).await;
    let first = ids(&answers[0]);
    assert_eq!(first.len(), submitted.len() - 1);
    assert!(answers.iter().all(|a| ids(a) == first));
    s.stop().await;
}
