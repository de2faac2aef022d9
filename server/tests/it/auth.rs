//! Accounts end to end against the real server on a real SQLite file: first run, sign-in and its
//! limits, cookies and CSRF, API keys (hashed, scoped, revocable), kiosk quick sign-in and idle
//! sign-out, every role refused every route it may not use, hostile input, and the admin CLI.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{make_user, start, Running, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::auth::policy::{Access, TABLE};
use server::db::{Db, Role};

trait Url {
    fn url(&self, path: &str) -> String;
}

impl Url for Running {
    fn url(&self, path: &str) -> String {
        Running::url(self, path)
    }
}

impl Url for Base {
    fn url(&self, path: &str) -> String {
        Base::url(self, path)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `name=value` of a cookie set by a response, and its attributes.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| (v.to_string(), attrs.to_string()))
    })
}

async fn login(s: &impl Url, username: &str, password: &str) -> reqwest::Response {
    client()
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn first_run_sign_in_cookies_and_csrf() {
    // A new box: the real binary on an empty data directory, nobody has an account.
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let _server = common::serve_binary(dir.path(), port);
    let s = Base(format!("http://127.0.0.1:{port}"));
    let http = client();
    let page = http.get(s.url("/queue")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/setup");

    let made = http
        .post(s.url("/api/v1/auth/setup"))
        .json(&json!({ "username": "head", "password": "a long password", "display_name": "Head of Science" }))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let (session, attrs) = set_cookie(&made, "printfarm_session").expect("a session cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax") && attrs.contains("Path=/"), "{attrs}");
    // The first run closes once someone exists.
    let again = http
        .post(s.url("/api/v1/auth/setup"))
        .json(&json!({ "username": "mallory", "password": "a long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Passwords are stored as argon2id hashes, never as text.
    let db = Db::open(dir.path()).await.unwrap();
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'head'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_one(db.pool()).await.unwrap();
    assert_ne!(stored, session.as_bytes(), "only a hash of the cookie is stored");
    db.close().await;

    // Anonymous visitors are asked to sign in, and keep where they were going.
    let page = http.get(s.url("/queue?x=1")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/login?next=/queue%3Fx%3D1");
    assert_eq!(http.get(s.url("/api/v1/queue")).send().await.unwrap().status(), 401);

    let cookie = format!("printfarm_session={session}");
    let me: Value =
        http.get(s.url("/api/v1/auth/me")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["username"], "head");
    assert_eq!(me["user"]["role"], "Admin");
    let csrf = me["csrf_token"].as_str().unwrap().to_string();

    // Writes with the cookie must come from our own pages (CSRF).
    let write = |origin: Option<&str>, token: Option<&str>| {
        let mut r = http
            .post(s.url("/api/v1/materials"))
            .header("cookie", &cookie)
            .json(&json!({ "name": format!("PLA {}", rand_suffix()), "kind": "PLA" }));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    assert_eq!(write(None, None).await.unwrap().status(), 403, "no origin, no token");
    assert_eq!(write(Some("http://evil.example"), None).await.unwrap().status(), 403, "another site");
    assert_eq!(write(Some(&s.url("")), None).await.unwrap().status(), 201, "our own page");
    assert_eq!(write(None, Some(&csrf)).await.unwrap().status(), 201, "the session's token");
    assert_eq!(write(None, Some("forged")).await.unwrap().status(), 403, "a wrong token");

    // Signing out ends the session on the server, not only in the browser.
    let out =
        http.post(s.url("/api/v1/auth/logout")).header("cookie", &cookie).header("origin", s.url("")).send().await;
    let out = out.unwrap();
    assert_eq!(out.status(), 204);
    assert!(set_cookie(&out, "printfarm_session").unwrap().1.contains("Max-Age=0"));
    assert_eq!(http.get(s.url("/api/v1/auth/me")).header("cookie", &cookie).send().await.unwrap().status(), 401);

    // Wrong passwords: a plain sentence, then a pause for that address.
    let wrong = login(&s, "head", "not it").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("do not match"));
    for _ in 0..9 {
        login(&s, "head", "not it").await;
    }
    let locked = login(&s, "head", "a long password").await;
    assert_eq!(locked.status(), 429, "even the right password waits after ten wrong ones");
    assert!(locked.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("Wait"));
    // Failed sign-ins are in the audit log with where they came from.
    let db = Db::open(dir.path()).await.unwrap();
    let failed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'sign in failed' AND ip = '127.0.0.1'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(failed, 10);
    db.close().await;
}

/// A server's address, for tests that run the binary.
struct Base(String);

impl Base {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

fn rand_suffix() -> String {
    server::auth::credentials::random_token(4)
}

#[tokio::test]
async fn api_keys_are_hashed_scoped_and_revocable() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "tess", "teacher", "teacher password", None).await;
    let tess = login(&s, "tess", "teacher password").await;
    let (session, _) = set_cookie(&tess, "printfarm_session").unwrap();
    let cookie = format!("printfarm_session={session}");
    let http = client();

    // A teacher makes a key for their slicer, limited to a maker's rights.
    let made: Value = http
        .post(s.url("/api/v1/api-keys"))
        .header("cookie", &cookie)
        .header("origin", s.url(""))
        .json(&json!({ "name": "PrusaSlicer", "role": "maker" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("pf_"));
    let id = made["info"]["id"].as_i64().unwrap();
    // It is never shown again: lists carry a prefix, and the database only a hash.
    let list =
        http.get(s.url("/api/v1/api-keys")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("PrusaSlicer") && !list.contains(&key), "{list}");
    let db_bytes = std::fs::read(dir.path().join("printfarm.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("printfarm.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    assert!(!db_bytes.windows(needle.len()).chain(wal.windows(needle.len())).any(|w| w == needle));

    // Both headers work; the key's role, not its owner's, decides.
    let with_header = http.get(s.url("/api/v1/queue")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(with_header.status(), 200);
    let bearer = http.get(s.url("/api/v1/queue")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let teacherly = http.get(s.url("/api/v1/stats/groups")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(teacherly.status(), 403, "a maker key cannot read class statistics");
    // A key cannot be made above its owner, nor by a non-admin for someone else.
    let (status, _) = s.send(Method::POST, "/api/v1/api-keys", Some("tess"), json!({ "role": "admin" })).await;
    assert_eq!(status, 201, "asks for admin, gets at most teacher");
    let keys: Vec<Value> = s.http.get(s.url("/api/v1/api-keys?all=true")).send().await.unwrap().json().await.unwrap();
    assert!(keys.iter().all(|k| k["role"] != "admin" || k["user_id"] != keys[0]["user_id"] || k["name"] == "test"));
    let (status, _) = s.send(Method::POST, "/api/v1/api-keys", Some("tess"), json!({ "user_id": 1 })).await;
    assert_eq!(status, 403);

    // Revoked: refused at once, with a sentence.
    let r = http
        .delete(s.url(&format!("/api/v1/api-keys/{id}")))
        .header("cookie", &cookie)
        .header("origin", s.url(""))
        .send();
    assert_eq!(r.await.unwrap().status(), 204);
    let after = http.get(s.url("/api/v1/queue")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(after.status(), 401);
    assert!(after.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("revoked"));
    // A mistyped key is no better than none.
    let bad = http.get(s.url("/api/v1/queue")).header("x-api-key", "pf_nonsense").send().await.unwrap();
    assert_eq!(bad.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn kiosk_quick_sign_in_and_idle_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "kiosk-lab", "kiosk", "kiosk password", None).await;
    make_user(&s, "maya", "maker", "maya password", Some("2468")).await;
    let (status, _) = s.send(Method::PATCH, "/api/v1/users/3", None, json!({ "badge": "BADGE-0042-XYZ" })).await;
    assert_eq!(status, 200);
    let http = client();

    // PINs are taken only from a kiosk device.
    let anywhere = http.post(s.url("/api/v1/auth/pin")).json(&json!({ "username": "maya", "pin": "2468" })).send();
    assert_eq!(anywhere.await.unwrap().status(), 401);

    let device = login(&s, "kiosk-lab", "kiosk password").await;
    assert_eq!(device.status(), 200);
    let (device_token, attrs) = set_cookie(&device, "printfarm_device").expect("a device cookie");
    assert!(attrs.contains("HttpOnly"));
    assert!(set_cookie(&device, "printfarm_kiosk").is_some(), "the kiosk screen turns on");
    let device_cookie = format!("printfarm_device={device_token}");
    let pin = |body: Value| {
        http.post(s.url("/api/v1/auth/pin"))
            .header("cookie", &device_cookie)
            .header("origin", s.url(""))
            .json(&body)
            .send()
    };
    // The device alone may look, not print.
    let look = http.get(s.url("/api/v1/queue")).header("cookie", &device_cookie).send().await.unwrap();
    assert_eq!(look.status(), 200);
    let job = http
        .post(s.url("/api/v1/jobs"))
        .header("cookie", &device_cookie)
        .header("origin", s.url(""))
        .json(&json!({ "model_version_id": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), 403);

    let wrong = pin(json!({ "username": "maya", "pin": "1111" })).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = pin(json!({ "username": "maya", "pin": "2468" })).await.unwrap();
    assert_eq!(ok.status(), 200);
    let (maya_token, _) = set_cookie(&ok, "printfarm_session").unwrap();
    let both = format!("{device_cookie}; printfarm_session={maya_token}");
    let me: Value =
        http.get(s.url("/api/v1/auth/me")).header("cookie", &both).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["username"], "maya");
    assert_eq!(me["user"]["quick"], true);

    // A badge alone signs in too.
    let badge = pin(json!({ "badge": "BADGE-0042-XYZ" })).await.unwrap();
    assert_eq!(badge.status(), 200);
    assert_eq!(badge.json::<Value>().await.unwrap()["user"]["username"], "maya");

    // Idle longer than the kiosk allows: signed out, and the device is still the kiosk.
    let db = Db::open(dir.path()).await.unwrap();
    let token_hash = server::auth::credentials::digest(&maya_token);
    sqlx::query(
        "UPDATE sessions SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-200 seconds') WHERE token_hash = ?",
    )
    .bind(&token_hash)
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;
    let me: Value =
        http.get(s.url("/api/v1/auth/me")).header("cookie", &both).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["username"], "kiosk-lab", "maya was signed out after the idle time");

    // Five wrong PINs for one name lock that name for a while, whatever the PIN.
    for _ in 0..5 {
        pin(json!({ "username": "maya", "pin": "0000" })).await.unwrap();
    }
    let locked = pin(json!({ "username": "maya", "pin": "2468" })).await.unwrap();
    assert_eq!(locked.status(), 429);
    // Managers do not sign in by PIN.
    s.stop().await;
}

/// Every role tries every route it must not use: 401 for nobody, 403 for a role too low.
#[tokio::test]
async fn every_role_is_refused_what_it_may_not_use() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let roles = [Role::Kiosk, Role::Maker, Role::Teacher, Role::Manager];
    for r in roles {
        make_user(&s, &format!("who-{r}"), r.as_str(), "a long password", None).await;
    }
    let http = client();
    let mut checked = 0;
    for (method, route, access) in TABLE {
        let Access::AtLeast(needed) = *access else { continue };
        let path = route.replace("{id}", "1").replace("{action}", "approve");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        // Nobody signed in.
        let r = http.request(method.clone(), s.url(&path)).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), 401, "{method} {path} without signing in");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].is_string(), "{method} {path}: errors are JSON with a message");
        for r in roles.iter().filter(|r| **r < needed) {
            let key = s.key(&format!("who-{r}")).await;
            let res = http.request(method.clone(), s.url(&path)).header("x-api-key", key).json(&json!({})).send();
            let res = res.await.unwrap();
            assert_eq!(res.status(), 403, "{method} {path} as {r} (needs {needed})");
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} refusals checked");

    // Server functions behind the pages refuse too.
    let anonymous = http.post(s.url("/api/queue/place")).form(&[("id", "1")]).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let maker = s.key("who-maker").await;
    let as_maker = http.post(s.url("/api/queue/place")).header("x-api-key", &maker).form(&[("id", "1")]).send();
    assert_eq!(as_maker.await.unwrap().status(), 403);
    // A maker may not act on someone else's job, nor approve their own.
    let version = common::upload(&s, "cube.stl", [10.0, 10.0, 10.0], ADMIN).await;
    let jobs = s.post("/api/v1/jobs", None, json!({ "model_version_id": version })).await;
    let job = jobs[0]["id"].as_i64().unwrap();
    let (status, _) = s.send(Method::POST, &format!("/api/v1/jobs/{job}/cancel"), Some("who-maker"), json!({})).await;
    assert_eq!(status, 403);
    let mine = s.post("/api/v1/jobs", Some("who-maker"), json!({ "model_version_id": version })).await;
    let mine = mine[0]["id"].as_i64().unwrap();
    let (status, _) = s.send(Method::POST, &format!("/api/v1/jobs/{mine}/approve"), Some("who-maker"), json!({})).await;
    assert_eq!(status, 403);
    let (status, v) = s.send(Method::POST, &format!("/api/v1/jobs/{mine}/cancel"), Some("who-maker"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    // Makers list only their own jobs.
    let listed: Vec<Value> =
        http.get(s.url("/api/v1/jobs")).header("x-api-key", &maker).send().await.unwrap().json().await.unwrap();
    assert!(!listed.is_empty() && listed.iter().all(|j| j["id"].as_i64() == Some(mine)), "{listed:?}");
    s.stop().await;
}

/// Hostile input gets a clear 4xx and the server keeps serving.
#[tokio::test]
async fn hostile_input_gets_clear_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let url = s.url("/api/v1/materials");
    let send = |body: &'static str| s.http.post(&url).header("content-type", "application/json").body(body).send();
    for (body, why) in [
        ("{", "truncated JSON"),
        ("{\"name\": 5}", "wrong type"),
        ("[]", "not an object"),
        ("{\"name\": \"x\", \"kind\": \"PLA\", \"extra\": 1}", "unknown field"),
    ] {
        let r = send(body).await.unwrap();
        assert!(r.status().is_client_error(), "{why}: {}", r.status());
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{why}: {v}");
    }
    // Errors axum answers itself (a path parameter that is not a number, a wrong method, an unknown
    // route) are JSON too.
    for (method, path, want) in [
        (Method::GET, "/api/v1/jobs/not-a-number", 400),
        (Method::PATCH, "/api/v1/queue", 405),
        (Method::GET, "/api/v1/no-such-thing", 404),
    ] {
        let r = s.http.request(method.clone(), s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), want, "{method} {path}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{method} {path}: {v}");
    }
    // SQL metacharacters are just text.
    let evil = "x'); DROP TABLE users;--";
    let (status, v) = s.send(Method::POST, "/api/v1/users", None, json!({ "username": evil, "role": "maker" })).await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = s.send(Method::POST, "/api/v1/materials", None, json!({ "name": evil, "kind": "PLA" })).await;
    assert_eq!(status, 201);
    let users: Vec<Value> = s.get("/api/v1/users").await.as_array().unwrap().clone();
    assert!(!users.is_empty(), "users table still there");
    // A login body far too big is refused before it is read.
    let big = "x".repeat(3 << 20);
    let r = client().post(s.url("/api/v1/auth/login")).header("content-type", "application/json").body(big).send();
    assert_eq!(r.await.unwrap().status(), 413);
    // Path traversal in an upload name: stored under the server's own id.
    let up = s
        .http
        .post(s.url("/api/v1/models?name=../../etc/passwd.stl"))
        .body(common::stl([10.0, 10.0, 10.0]))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    assert!(!dir.path().parent().unwrap().join("etc/passwd.stl").exists());
    // Names with markup are shown as text on the pages.
    let version = up.json::<Value>().await.unwrap()["version_id"].as_i64().unwrap();
    s.post("/api/v1/jobs", None, json!({ "model_version_id": version, "name": "<script>alert(1)</script>" })).await;
    let page = s.http.get(s.url("/queue")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>alert(1)</script>"), "the name is escaped");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || page.contains("\\u003cscript"),
        "the name is there"
    );
    assert_eq!(s.http.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    s.stop().await;
}

/// `printfarm admin create` and `admin api-key create` work against a running server's data.
#[tokio::test]
async fn the_admin_cli_makes_accounts_and_keys_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let _server = common::serve_binary(dir.path(), port);
    let bin = env!("CARGO_BIN_EXE_printfarm");
    let mut create = Command::new(bin)
        .args(["admin", "create", "--username", "ops", "--password-stdin", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    create.stdin.take().unwrap().write_all(b"operations password\n").unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin)
        .args(["admin", "api-key", "create", "--username", "ops", "--data-dir"])
        .arg(dir.path())
        .output();
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("pf_"), "only the key on stdout: {key:?}");
    let base = format!("http://127.0.0.1:{port}");
    let me: Value = client()
        .get(format!("{base}/api/v1/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], "ops");
    // The password works for signing in as well.
    let r = client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "ops", "password": "operations password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Short passwords are refused with the rule.
    let mut short = Command::new(bin)
        .args(["admin", "create", "--username", "tiny", "--password-stdin", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    short.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = short.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
}

/// Quotas: unfinished jobs per role, grams per week per user; refusals say the limit and what to do.
#[tokio::test]
async fn quotas_stop_a_maker_with_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "kim", "maker", "a long password", None).await;
    make_user(&s, "lee", "maker", "a long password", None).await;
    let (status, v) = s.send(Method::PUT, "/api/v1/farm/settings", None, json!({ "job_quota": { "maker": 2 } })).await;
    assert_eq!(status, 200, "{v}");
    let version = common::upload(&s, "cube.stl", [10.0, 10.0, 10.0], ADMIN).await;
    let submit = async |who: &str, copies: i64| {
        s.send(Method::POST, "/api/v1/jobs", Some(who), json!({ "model_version_id": version, "copies": copies })).await
    };
    assert_eq!(submit("kim", 2).await.0, 201);
    let (status, v) = submit("kim", 1).await;
    assert_eq!(status, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("may have 2 at once"), "{v}");
    // Teachers and the admin have no job limit; another maker has their own.
    assert_eq!(submit("lee", 1).await.0, 201);
    // A teacher may give one maker more (or fewer) than the role's limit.
    let (status, v) =
        s.send(Method::PUT, "/api/v1/farm/settings", None, json!({ "job_quota_users": { "kim": 3 } })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(submit("kim", 1).await.0, 201);
    let (status, v) = submit("kim", 1).await;
    assert_eq!(status, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("you may have 3 at once"), "{v}");
    let (status, _) =
        s.send(Method::PUT, "/api/v1/farm/settings", None, json!({ "job_quota_users": { "kim": -1 } })).await;
    assert_eq!(status, 400, "a negative limit is refused");
    // A per-person filament limit wins over the role's (none here).
    let (status, _) =
        s.send(Method::PUT, "/api/v1/farm/settings", None, json!({ "filament_quota_users": { "lee": 0 } })).await;
    assert_eq!(status, 200);
    let (status, v) = submit("lee", 1).await;
    assert_eq!(status, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("filament"), "{v}");
    s.stop().await;
}

/// People change their own password knowing the current one; their other sessions end, this one stays.
#[tokio::test]
async fn people_change_their_own_password() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "ana", "maker", "first password", Some("4821")).await;
    let session =
        |r: &reqwest::Response| format!("printfarm_session={}", set_cookie(r, "printfarm_session").unwrap().0);
    let here = session(&login(&s, "ana", "first password").await);
    let elsewhere = session(&login(&s, "ana", "first password").await);
    let http = client();
    let change = |cookie: String, current: &'static str, new: &'static str| {
        http.put(s.url("/api/v1/auth/password"))
            .header("cookie", cookie)
            .header("origin", s.url(""))
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
    };
    let me = |cookie: String| http.get(s.url("/api/v1/auth/me")).header("cookie", cookie).send();

    let r = change(here.clone(), "wrong guess", "second password").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("current password"));
    let r = change(here.clone(), "first password", "short").await.unwrap();
    assert_eq!(r.status(), 400, "the new one is checked like any password");
    assert_eq!(change(here.clone(), "first password", "second password").await.unwrap().status(), 204);

    assert_eq!(me(here.clone()).await.unwrap().status(), 200, "the session in use stays");
    assert_eq!(me(elsewhere).await.unwrap().status(), 401, "every other session ended");
    assert_eq!(login(&s, "ana", "first password").await.status(), 401);
    assert_eq!(login(&s, "ana", "second password").await.status(), 200);
    // Without a session or key: nobody to change.
    let anonymous = http
        .put(s.url("/api/v1/auth/password"))
        .json(&json!({ "current_password": "second password", "new_password": "third password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let audit = s.get("/api/v1/audit?limit=50").await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"password changed") && actions.contains(&"password change refused"), "{actions:?}");
    s.stop().await;
}
