//! The account attacks of issue 20 (an outside security probe), each performed against the real server
//! on a real SQLite file, with real parallel requests where the attack is a race. Every test counts how
//! often the attack worked and prints it (`attack …: n/m`), so the figures before and after a fix can
//! be read off a run with `--nocapture`; then it asserts that the attack fails.

use crate::common;

use common::{make_user, start, Running, ADMIN};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every test signs in from 127.0.0.1: that is the "shared address" (a school's NAT, a kiosk) too.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn figure(what: &str, worked: usize, tries: usize) {
    eprintln!("attack {what}: {worked}/{tries}");
}

async fn login(s: &Running, username: &str, password: impl AsRef<str>) -> reqwest::Response {
    let password = password.as_ref();
    client()
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The `name=value` pair of a cookie a response sets.
fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next()?;
        let (n, v) = pair.split_once('=')?;
        (n == name && !v.is_empty()).then(|| pair.to_string())
    })
}

/// Signs `username` in with their password; the session (or kiosk device) cookie.
async fn session(s: &Running, username: &str, password: &str) -> String {
    let r = login(s, username, password).await;
    assert_eq!(r.status(), 200, "{username} signs in");
    cookie_of(&r, "printfarm_session").or_else(|| cookie_of(&r, "printfarm_device")).expect("a cookie")
}

/// A write from our own pages, with a cookie.
fn own_page(s: &Running, method: Method, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    client().request(method, s.url(path)).header("cookie", cookie).header("origin", s.url(""))
}

/// Finding 1: a maker made an API key with the kiosk role and, from any machine, signed in by PIN as
/// anyone with a PIN, a teacher included.
#[tokio::test]
async fn a_kiosk_role_key_cannot_sign_anyone_in_by_pin() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "tia", "teacher", "teacher password", Some("4321")).await;
    make_user(&s, "mo", "maker", "maker password", None).await;
    let kiosk = make_user(&s, "kiosk-hall", "kiosk", "kiosk password", None).await;
    let http = client();

    // The maker asks for a key with the kiosk role (their own key in hand, as the probe did).
    let (status, made) = s.send(Method::POST, "/api/v1/api-keys", Some("mo"), json!({ "role": "kiosk" })).await;
    let maker_kiosk_key = made["key"].as_str().map(str::to_string);
    figure("maker made a kiosk-role key", usize::from(maker_kiosk_key.is_some()), 1);
    // An admin's kiosk key for the kiosk's own account (for scripts on the kiosk) is allowed, but it is
    // still a key, not the touchscreen: it must not take PINs either.
    let (admin_status, admin_made) =
        s.send(Method::POST, "/api/v1/api-keys", None, json!({ "role": "kiosk", "user_id": kiosk })).await;
    assert_eq!(admin_status, 201, "{admin_made}");
    let kiosk_account_key = admin_made["key"].as_str().unwrap().to_string();

    let mut signed_in = 0;
    let mut tries = 0;
    let mut refusals = Vec::new();
    for key in maker_kiosk_key.iter().chain([&kiosk_account_key]) {
        for _ in 0..5 {
            // The REST route and the sign-in page's server function, both from "any machine".
            let rest = http
                .post(s.url("/api/v1/auth/pin"))
                .header("x-api-key", key)
                .json(&json!({ "username": "tia", "pin": "4321" }))
                .send()
                .await
                .unwrap();
            let page = http
                .post(s.url("/api/auth/quick_sign_in"))
                .header("x-api-key", key)
                .form(&[("username", "tia"), ("secret", "4321")])
                .send()
                .await
                .unwrap();
            for r in [rest, page] {
                tries += 1;
                if r.status().is_success() {
                    signed_in += 1;
                } else {
                    refusals.push((r.status(), r.text().await.unwrap_or_default()));
                }
            }
        }
    }
    figure("PIN sign-ins with a kiosk-role API key", signed_in, tries);
    assert_ne!(status, 201, "a maker's key cannot carry the kiosk role");
    assert_eq!(status, 400, "{made}");
    assert!(made["error"].as_str().unwrap().contains("kiosk"), "{made}");
    assert_eq!(signed_in, 0, "no quick sign-in through an API key");
    for (status, body) in refusals {
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("kiosk"), "the refusal says why: {body}");
    }

    // The touchscreen itself still works.
    let device = session(&s, "kiosk-hall", "kiosk password").await;
    let ok = own_page(&s, Method::POST, "/api/v1/auth/pin", &device)
        .json(&json!({ "username": "tia", "pin": "4321" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    s.stop().await;
}

/// A kiosk device (its own account's session on the touchscreen) and a person with a PIN.
async fn kiosk_with(s: &Running, who: &str, pin: &str) -> String {
    make_user(s, "kiosk-lab", "kiosk", "kiosk password", None).await;
    make_user(s, who, "maker", "maker password", Some(pin)).await;
    session(s, "kiosk-lab", "kiosk password").await
}

/// Counts answers by status: (secret checked and wrong, refused as too many).
fn tally(statuses: &[StatusCode]) -> (usize, usize) {
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked + refused, statuses.len(), "only 401 or 429: {statuses:?}");
    (checked, refused)
}

/// Finding 2 (PINs): the limit was checked before a failure was recorded, so 40 wrong PINs sent at once
/// were nearly all checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_pins_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let device = kiosk_with(&s, "pia", "2580").await;
    let attempts = (0..40).map(|i| {
        own_page(&s, Method::POST, "/api/v1/auth/pin", &device)
            .json(&json!({ "username": "pia", "pin": format!("{:04}", 1000 + i) }))
            .send()
    });
    let statuses: Vec<StatusCode> = join_all(attempts).await.into_iter().map(|r| r.unwrap().status()).collect();
    let (checked, _) = tally(&statuses);
    figure("parallel wrong PINs checked", checked, statuses.len());
    assert_eq!(checked, 5, "five wrong PINs per account, however they arrive");
    // The right PIN now waits too.
    let right =
        own_page(&s, Method::POST, "/api/v1/auth/pin", &device).json(&json!({ "username": "pia", "pin": "2580" }));
    assert_eq!(right.send().await.unwrap().status(), 429);
    s.stop().await;
}

/// Finding 2 (passwords): 45 wrong passwords sent at once from one address were all checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_stop_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "tom", "teacher", "teacher password", None).await;
    let attempts = (0..45).map(|i| login(&s, "tom", format!("guess number {i}")));
    let statuses: Vec<StatusCode> = join_all(attempts).await.into_iter().map(|r| r.status()).collect();
    let (checked, _) = tally(&statuses);
    figure("parallel wrong passwords checked (one account)", checked, statuses.len());
    assert_eq!(checked, 10, "ten wrong passwords per account and address, however they arrive");
    assert_eq!(login(&s, "tom", "teacher password").await.status(), 429, "the right one waits too");
    s.stop().await;
}

/// Finding 3: nine wrong passwords for someone else, then a correct sign-in to one's own account, wiped
/// the address's failures: repeated, 36 wrong tries and no refusal.
#[tokio::test]
async fn a_success_does_not_wipe_failures_against_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "vic", "teacher", "victim password", None).await;
    make_user(&s, "mal", "maker", "mallory password", None).await;
    let mut checked = 0;
    for round in 0..4 {
        for i in 0..9 {
            let r = login(&s, "vic", format!("guess {round}-{i}")).await;
            if r.status() == StatusCode::UNAUTHORIZED {
                checked += 1;
            } else {
                assert_eq!(r.status(), 429);
            }
        }
        assert_eq!(login(&s, "mal", "mallory password").await.status(), 200, "mallory signs in to her own account");
    }
    figure("wrong passwords checked between own sign-ins", checked, 36);
    assert_eq!(checked, 10, "a success on one account does not clear another's failures");
    s.stop().await;
}

/// Finding 3, the shared address: ten wrong passwords from a school's NAT (or a kiosk) locked out
/// everyone behind it. Now one person's wrong tries lock only the account they guess at.
#[tokio::test]
async fn one_person_cannot_lock_out_everyone_behind_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "vic", "teacher", "victim password", None).await;
    let names = ["ann", "ben", "cat", "dev", "eve"];
    for n in names {
        make_user(&s, n, "maker", &format!("{n} password"), None).await;
    }
    // A prankster behind the school's address types ten wrong passwords for the teacher.
    for i in 0..10 {
        assert_eq!(login(&s, "vic", format!("prank {i}")).await.status(), 401);
    }
    let mut locked_out = 0;
    for n in names {
        if login(&s, n, format!("{n} password")).await.status() != StatusCode::OK {
            locked_out += 1;
        }
    }
    figure("classmates locked out after one person's 10 wrong passwords", locked_out, names.len());
    assert_eq!(locked_out, 0);
    assert_eq!(login(&s, "vic", "victim password").await.status(), 429, "the account guessed at waits");

    // Guessing across many accounts from one address (spraying) still stops, but not for people who
    // have signed in from here before.
    for round in 0..6 {
        for n in names {
            login(&s, n, format!("spray {round}")).await;
        }
    }
    make_user(&s, "new-kid", "maker", "new kid password", None).await;
    assert_eq!(login(&s, "new-kid", "new kid password").await.status(), 429, "a spray is stopped");
    assert_eq!(login(&s, "ann", "ann password").await.status(), 200, "known here: not locked out");
    s.stop().await;
}

/// Login CSRF: a form on another website posted to the sign-in server function signed the visitor in
/// to the attacker's account.
#[tokio::test]
async fn sign_in_cannot_be_forged_from_another_site() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "mal", "maker", "mallory password", None).await;
    let http = client();
    let mut worked = 0;
    let forged = [
        http.post(s.url("/api/auth/sign_in"))
            .header("origin", "http://evil.example")
            .form(&[("username", "mal"), ("password", "mallory password")]),
        http.post(s.url("/api/auth/sign_in"))
            .header("sec-fetch-site", "cross-site")
            .form(&[("username", "mal"), ("password", "mallory password")]),
        http.post(s.url("/api/v1/auth/login"))
            .header("origin", "http://evil.example")
            .json(&json!({ "username": "mal", "password": "mallory password" })),
    ];
    let tries = forged.len();
    for r in forged {
        let r = r.send().await.unwrap();
        if cookie_of(&r, "printfarm_session").is_some() {
            worked += 1;
        } else {
            assert_eq!(r.status(), 403);
        }
    }
    figure("cross-site sign-ins", worked, tries);
    assert_eq!(worked, 0);
    // Our own page, and clients that are not browsers, still sign in.
    let own = http
        .post(s.url("/api/auth/sign_in"))
        .header("origin", s.url(""))
        .form(&[("username", "mal"), ("password", "mallory password")]);
    assert!(cookie_of(&own.send().await.unwrap(), "printfarm_session").is_some());
    assert_eq!(login(&s, "mal", "mallory password").await.status(), 200);
    s.stop().await;
}

/// The live event stream accepted a WebSocket opened by another website with the visitor's cookie.
#[tokio::test]
async fn the_event_stream_refuses_other_sites() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "mo", "maker", "maker password", None).await;
    let cookie = session(&s, "mo", "maker password").await;
    let open = |origin: String| {
        let mut request = format!("ws://{}/api/v1/events", s.addr).into_client_request().unwrap();
        request.headers_mut().insert("cookie", cookie.parse().unwrap());
        request.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let foreign = open("http://evil.example".into()).await;
    figure("foreign-origin event streams opened", usize::from(foreign.is_ok()), 1);
    match foreign {
        Ok(_) => panic!("a page on another site read the live events"),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        Err(e) => panic!("{e}"),
    }
    assert!(open(s.url("")).await.is_ok(), "our own pages still get the stream");
    s.stop().await;
}

/// A maker set `priority` and `max_attempts` (a manager's fields) on their own job.
#[tokio::test]
async fn makers_cannot_set_manager_fields_on_their_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "mo", "maker", "maker password", None).await;
    let version = common::upload(&s, "cube.stl", [10.0, 10.0, 10.0], "mo").await;
    let mut worked = 0;
    let asks = [json!({ "priority": 100 }), json!({ "max_attempts": 10 }), json!({ "priority": 5, "max_attempts": 3 })];
    for ask in &asks {
        let mut body = ask.clone();
        body["model_version_id"] = json!(version);
        let (status, v) = s.send(Method::POST, "/api/v1/jobs", Some("mo"), body).await;
        if status == 201 {
            let job = &v[0];
            if job["priority"].as_i64() != Some(0) || job["max_attempts"].as_i64() != Some(0) {
                worked += 1;
            }
        } else {
            assert_eq!(status, 403, "{v}");
            assert!(v["error"].as_str().unwrap().contains("manager"), "{v}");
        }
    }
    figure("maker jobs with manager fields set", worked, asks.len());
    assert_eq!(worked, 0);
    // A manager still may.
    make_user(&s, "meg", "manager", "manager password", None).await;
    let (status, v) =
        s.send(Method::POST, "/api/v1/jobs", Some("meg"), json!({ "model_version_id": version, "priority": 7 })).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v[0]["priority"], 7);
    s.stop().await;
}

/// Anyone signed in read anyone's generation (its prompt) by id.
#[tokio::test]
async fn a_generation_prompt_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "bo", "maker", "maker password", None).await;
    make_user(&s, "cy", "maker", "maker password", None).await;
    let asked = s.post("/api/v1/generations", Some("bo"), json!({ "prompt": "a name tag for Bozena" })).await;
    let id = asked["generations"][0]["id"].as_i64().unwrap();
    let mut read = 0;
    let mut answers = Vec::new();
    let paths = [format!("/api/v1/generations/{id}"), format!("/api/v1/generations/{id}/events")];
    for path in &paths {
        let r = s.http.get(s.url(path)).header("x-api-key", s.key("cy").await).send().await.unwrap();
        let status = r.status();
        if status == 200 {
            read += 1;
            answers.push((status, String::new()));
        } else {
            answers.push((status, r.text().await.unwrap()));
        }
    }
    figure("another maker's generation read by id", read, paths.len());
    for (status, body) in answers {
        assert_eq!(status, 404, "{body}");
        assert!(!body.contains("Bozena"), "{body}");
    }
    let (status, v) = s.send(Method::GET, &paths[0], Some("bo"), json!({})).await;
    assert_eq!(status, 200, "the asker reads their own: {v}");
    s.stop().await;
}

/// Teachers saw statistics and notifications of, and cancelled generations by, users outside their
/// classes, although the policy says "their classes'".
#[tokio::test]
async fn teachers_see_only_their_classes() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "ted", "teacher", "teacher password", None).await;
    let in_class = make_user(&s, "ida", "maker", "maker password", None).await;
    let outside = make_user(&s, "oz", "maker", "maker password", None).await;
    s.post("/api/v1/groups", None, json!({ "name": "7A", "members": ["ted", "ida"] })).await;
    s.post("/api/v1/groups", None, json!({ "name": "7B", "members": ["oz"] })).await;
    // A notification for each maker (a finished print, as the farm writes them).
    let db = server::db::Db::open(dir.path()).await.unwrap();
    for (user, message) in [(in_class, "ida's print is done"), (outside, "oz's print is done")] {
        sqlx::query("INSERT INTO notifications (kind, severity, message, user_id) VALUES ('job', 'info', ?, ?)")
            .bind(message)
            .bind(user)
            .execute(db.pool())
            .await
            .unwrap();
    }
    db.close().await;
    let mut seen = 0;
    let users = s.http.get(s.url("/api/v1/stats/users")).header("x-api-key", s.key("ted").await).send();
    let users: Vec<Value> = users.await.unwrap().json().await.unwrap();
    seen += users.iter().filter(|u| u["id"].as_i64() == Some(outside)).count();
    assert!(users.iter().any(|u| u["id"].as_i64() == Some(in_class)), "{users:?}");
    let groups = s.http.get(s.url("/api/v1/stats/groups")).header("x-api-key", s.key("ted").await).send();
    let groups: Vec<Value> = groups.await.unwrap().json().await.unwrap();
    seen += groups.iter().filter(|g| g["name"] == "7B").count();
    let notes = s.http.get(s.url("/api/v1/notifications")).header("x-api-key", s.key("ted").await).send();
    let notes: Vec<Value> = notes.await.unwrap().json().await.unwrap();
    seen += notes.iter().filter(|n| n["user_id"].as_i64() == Some(outside)).count();
    assert!(notes.iter().any(|n| n["user_id"].as_i64() == Some(in_class)), "{notes:?}");
    let foreign_note = {
        let all: Vec<Value> = serde_json::from_value(s.get("/api/v1/notifications").await).unwrap();
        all.iter().find(|n| n["user_id"].as_i64() == Some(outside)).unwrap()["id"].as_i64().unwrap()
    };
    let (status, _) =
        s.send(Method::POST, &format!("/api/v1/notifications/{foreign_note}/read"), Some("ted"), json!({})).await;
    seen += usize::from(status == 204);
    let asked = s.post("/api/v1/generations", Some("oz"), json!({ "prompt": "a name tag for Oz" })).await;
    let generation = asked["generations"][0]["id"].as_i64().unwrap();
    let (status, _) =
        s.send(Method::POST, &format!("/api/v1/generations/{generation}/cancel"), Some("ted"), json!({})).await;
    seen += usize::from(status == 200);
    figure("teacher reads or acts outside their class", seen, 5);
    assert_eq!(seen, 0);
    // Their own class's generation they may cancel.
    let asked = s.post("/api/v1/generations", Some("ida"), json!({ "prompt": "a name tag for Ida" })).await;
    let generation = asked["generations"][0]["id"].as_i64().unwrap();
    let (status, v) =
        s.send(Method::POST, &format!("/api/v1/generations/{generation}/cancel"), Some("ted"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    s.stop().await;
}

/// A kiosk saved an edited version of another person's model.
#[tokio::test]
async fn a_kiosk_cannot_save_over_someone_elses_model() {
    use leptos::server_fn::ServerFn;
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "bo", "maker", "maker password", None).await;
    make_user(&s, "kiosk-lab", "kiosk", "kiosk password", None).await;
    make_user(&s, "cy", "maker", "maker password", Some("1357")).await;
    let version = common::upload(&s, "bo-cube.stl", [10.0, 10.0, 10.0], "bo").await;
    let device = session(&s, "kiosk-lab", "kiosk password").await;
    let quick = own_page(&s, Method::POST, "/api/v1/auth/pin", &device)
        .json(&json!({ "username": "cy", "pin": "1357" }))
        .send()
        .await
        .unwrap();
    let cy = format!("{device}; {}", cookie_of(&quick, "printfarm_session").unwrap());
    use base64::Engine;
    let file = base64::engine::general_purpose::STANDARD.encode(common::stl([20.0, 20.0, 20.0]));
    let path = app::api::editor::SaveEditedModel::PATH;
    let mut saved = 0;
    for cookie in [&device, &cy] {
        let r = own_page(&s, Method::POST, path, cookie)
            .json(&json!({ "version": version, "file_3mf_base64": file }))
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            saved += 1;
        } else {
            assert_eq!(r.status(), 403, "{}", r.text().await.unwrap());
        }
    }
    figure("edited versions saved over someone else's model at a kiosk", saved, 2);
    assert_eq!(saved, 0);
    // The owner still saves their own.
    let r = client()
        .post(s.url(path))
        .header("x-api-key", s.key("bo").await)
        .json(&json!({ "version": version, "file_3mf_base64": file }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    s.stop().await;
}

/// An API key outlived its owner's password change; now the change ends the keys, and "revoke all my
/// keys" is there for anyone who wants it without a new password.
#[tokio::test]
async fn keys_end_with_a_password_change_and_can_all_be_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    make_user(&s, "ana", "maker", "first password", None).await;
    let cookie = session(&s, "ana", "first password").await;
    let mut keys = Vec::new();
    for name in ["stolen", "slicer"] {
        let made: Value = own_page(&s, Method::POST, "/api/v1/api-keys", &cookie)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys.push(made["key"].as_str().unwrap().to_string());
    }
    let changed = own_page(&s, Method::PUT, "/api/v1/auth/password", &cookie)
        .json(&json!({ "current_password": "first password", "new_password": "second password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let mut alive = 0;
    for key in &keys {
        let r = client().get(s.url("/api/v1/auth/me")).header("x-api-key", key).send().await.unwrap();
        alive += usize::from(r.status() == 200);
    }
    figure("API keys alive after their owner's password change", alive, keys.len());
    assert_eq!(alive, 0);

    // Revoke all my keys: every key of the caller, nobody else's.
    let fresh: Value = own_page(&s, Method::POST, "/api/v1/api-keys", &cookie)
        .json(&json!({ "name": "new slicer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = fresh["key"].as_str().unwrap().to_string();
    let r = own_page(&s, Method::DELETE, "/api/v1/api-keys", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 1);
    let r = client().get(s.url("/api/v1/auth/me")).header("x-api-key", &fresh).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.get("/api/v1/auth/me").await["user"]["username"], ADMIN, "the admin's key is untouched");
    // Called with a key, every other key goes, and the calling one stays (a script cleaning up after itself).
    let (mine, other) = (s.key("ana").await, common::key_for(dir.path(), "ana").await);
    let r = client().delete(s.url("/api/v1/api-keys")).header("x-api-key", &mine).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["revoked"], 1);
    let me = |key: &str| client().get(s.url("/api/v1/auth/me")).header("x-api-key", key).send();
    assert_eq!(me(&mine).await.unwrap().status(), 200, "the calling key stays");
    assert_eq!(me(&other).await.unwrap().status(), 401, "the others are revoked");
    s.stop().await;
}
