//! `/account`: one's own password and API keys (for slicers, scripts, the OctoPrint-compatible upload).
//! Everything goes through the REST API in-process, so the checks, limits and audit log are the API's.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::{Role, Viewer};

mod text {
    pub const TITLE: &str = "Your account";
    pub const PASSWORD: &str = "Change your password";
    pub const CURRENT: &str = "Current password";
    pub const NEW: &str = "New password (8 characters or more)";
    pub const AGAIN: &str = "The new password again";
    pub const MISMATCH: &str = "The two new passwords are not the same. Type them again.";
    pub const CHANGED: &str = "Your password is changed. You were signed out everywhere else, and your API keys \
                               were revoked: make new ones for your slicers.";
    pub const KEYS: &str = "API keys";
    pub const KEYS_LEAD: &str = "A key lets a slicer or a script act as you: PrusaSlicer, OrcaSlicer and Cura can \
                                 \"send to OctoPrint\" straight into the queue with the box's address and a key.";
    pub const KEY_NAME: &str = "What the key is for (e.g. \"PrusaSlicer on my laptop\")";
    pub const KEY_ROLE: &str = "It may do what a";
    pub const MAKE_KEY: &str = "Make a key";
    pub const SHOWN_ONCE: &str = "Copy this key now: it is not shown again.";
    pub const NO_KEYS: &str = "You have no API keys.";
    pub const REVOKE: &str = "Revoke";
    pub const REVOKE_ALL: &str = "Revoke all my keys";
    pub const REVOKE_ALL_LEAD: &str =
        "Lost a laptop, or shared a key by mistake? This switches off every key of yours \
                                       at once. Your password stays the same.";
    pub const QUICK: &str = "You signed in with a PIN at a kiosk: change your account on your own computer.";
}

/// One of the viewer's API keys as the page lists it (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    /// The first characters, to tell keys apart.
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// The viewer's own API keys, newest first.
#[server(endpoint = "account/keys")]
pub async fn my_keys() -> Result<Vec<KeyRow>, ServerFnError> {
    crate::auth::require(Role::Maker)?;
    let mut keys: Vec<KeyRow> = crate::api::printers::rest_json("/api/v1/api-keys").await?;
    keys.sort_by_key(|k| std::cmp::Reverse(k.id));
    Ok(keys)
}

/// Makes a key for the viewer with at most their role; the answer is the key, shown once.
#[server(endpoint = "account/new_key")]
pub async fn new_key(name: String, role: String) -> Result<String, ServerFnError> {
    crate::auth::require(Role::Maker)?;
    let body = serde_json::json!({ "name": name, "role": role });
    let text = crate::api::printers::rest("POST", "/api/v1/api-keys", Some(body)).await?;
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| ServerFnError::new("the server's answer was not understood"))?;
    answer["key"].as_str().map(str::to_string).ok_or_else(|| ServerFnError::new("the server made no key"))
}

#[server(endpoint = "account/revoke_key")]
pub async fn revoke_key(id: i64) -> Result<(), ServerFnError> {
    crate::auth::require(Role::Maker)?;
    crate::api::printers::rest("DELETE", &format!("/api/v1/api-keys/{id}"), None).await?;
    Ok(())
}

/// Revokes every key of the viewer at once; how many.
#[server(endpoint = "account/revoke_all_keys")]
pub async fn revoke_all_keys() -> Result<u64, ServerFnError> {
    crate::auth::require(Role::Maker)?;
    let text = crate::api::printers::rest("DELETE", "/api/v1/api-keys", None).await?;
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| ServerFnError::new("the server's answer was not understood"))?;
    Ok(answer["revoked"].as_u64().unwrap_or(0))
}

#[server(endpoint = "account/password")]
pub async fn change_password(current: String, new: String) -> Result<(), ServerFnError> {
    crate::auth::require(Role::Maker)?;
    let body = serde_json::json!({ "current_password": current, "new_password": new });
    crate::api::printers::rest("PUT", "/api/v1/auth/password", Some(body)).await?;
    Ok(())
}

fn words(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        _ => "The box did not answer. Check the network and try again.".into(),
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| crate::auth::who_am_i());
    view! {
        <section class="page account">
            <h1>{text::TITLE}</h1>
            <Transition fallback=|| ()>
                {move || {
                    let viewer = me.get()?.ok().flatten();
                    Some(match viewer {
                        Some(v) if v.quick => view! { <p class="notice">{text::QUICK}</p> }.into_any(),
                        Some(v) if v.role >= Role::Maker => view! {
                            <p data-testid="account-who">
                                {format!("{} ({}, {})", v.display_name, v.username, v.role.label())}
                            </p>
                            <PasswordCard/>
                            <KeysCard viewer=v/>
                        }
                        .into_any(),
                        _ => view! { <p class="notice">{crate::auth::text::SIGN_IN_FIRST}</p> }.into_any(),
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn PasswordCard() -> impl IntoView {
    let said = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let current = NodeRef::<leptos::html::Input>::new();
    let new = NodeRef::<leptos::html::Input>::new();
    let again = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(c), Some(n), Some(a)) = (current.get(), new.get(), again.get()) else { return };
        if n.value() != a.value() {
            said.set(Some((false, text::MISMATCH.into())));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = change_password(c.value(), n.value()).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    for input in [&c, &n, &a] {
                        input.set_value("");
                    }
                    said.set(Some((true, text::CHANGED.into())));
                }
                Err(e) => said.set(Some((false, words(e)))),
            }
        });
    };
    view! {
        <form class="card form" on:submit=submit data-testid="password-form">
            <h2>{text::PASSWORD}</h2>
            <label class="field">
                <span>{text::CURRENT}</span>
                <input node_ref=current name="current" type="password" autocomplete="current-password" required/>
            </label>
            <label class="field">
                <span>{text::NEW}</span>
                <input node_ref=new name="new" type="password" autocomplete="new-password" minlength="8" required/>
            </label>
            <label class="field">
                <span>{text::AGAIN}</span>
                <input node_ref=again name="again" type="password" autocomplete="new-password" minlength="8" required/>
            </label>
            {move || said.get().map(|(ok, m)| {
                let class = if ok { "notice ok" } else { "notice error" };
                view! { <p class=class role="status" data-testid="password-said">{m}</p> }
            })}
            <button class="button primary" type="submit" disabled=move || busy.get()>{text::PASSWORD}</button>
        </form>
    }
}

#[component]
fn KeysCard(viewer: Viewer) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let keys = Resource::new(move || version.get(), |_| my_keys());
    let fresh = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let name = NodeRef::<leptos::html::Input>::new();
    let role = NodeRef::<leptos::html::Select>::new();
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| *r >= Role::Maker && *r <= viewer.role).collect();
    let make = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(n), Some(r)) = (name.get(), role.get()) else { return };
        leptos::task::spawn_local(async move {
            match new_key(n.value(), r.value()).await {
                Ok(key) => {
                    n.set_value("");
                    error.set(None);
                    fresh.set(Some(key));
                    version.update(|v| *v += 1);
                }
                Err(e) => error.set(Some(words(e))),
            }
        });
    };
    let revoke = move |id: i64| {
        leptos::task::spawn_local(async move {
            match revoke_key(id).await {
                Ok(()) => version.update(|v| *v += 1),
                Err(e) => error.set(Some(words(e))),
            }
        });
    };
    let revoke_all = move |_| {
        leptos::task::spawn_local(async move {
            match revoke_all_keys().await {
                Ok(_) => version.update(|v| *v += 1),
                Err(e) => error.set(Some(words(e))),
            }
        });
    };
    let own = viewer.role;
    view! {
        <div class="card" data-testid="keys">
            <h2>{text::KEYS}</h2>
            <p class="lead">{text::KEYS_LEAD}</p>
            <form class="form inline" on:submit=make data-testid="new-key-form">
                <label class="field">
                    <span>{text::KEY_NAME}</span>
                    <input node_ref=name name="name" maxlength="80"/>
                </label>
                <label class="field">
                    <span>{text::KEY_ROLE}</span>
                    <select node_ref=role name="role">
                        {roles
                            .into_iter()
                            .map(|r| view! { <option value=r.as_str() selected=r == own>{r.label()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button class="button primary" type="submit">{text::MAKE_KEY}</button>
            </form>
            {move || fresh.get().map(|k| view! {
                <div class="notice ok" role="status">
                    <p>{text::SHOWN_ONCE}</p>
                    <code class="secret" data-testid="new-key">{k}</code>
                </div>
            })}
            {move || error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            <Transition fallback=|| ()>
                {move || keys.get().map(|r| match r {
                    Err(e) => view! { <p class="notice error">{words(e)}</p> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p>{text::NO_KEYS}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table" data-testid="key-list">
                            <thead><tr>
                                <th>"Name"</th><th>"Starts"</th><th>"May act as"</th><th>"Made"</th><th>"Last used"</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|k| {
                                    let id = k.id;
                                    let revoked = k.revoked_at.is_some();
                                    view! {
                                        <tr data-key=id class:revoked=revoked>
                                            <td>{k.name}</td>
                                            <td><code>{format!("{}…", k.prefix)}</code></td>
                                            <td>{k.role}</td>
                                            <td>{day(&k.created_at)}</td>
                                            <td>{k.last_used_at.as_deref().map(day).unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                {if revoked {
                                                    view! { <span class="muted">"revoked"</span> }.into_any()
                                                } else {
                                                    view! {
                                                        <button class="button danger" type="button" on:click=move |_| revoke(id)>
                                                            {text::REVOKE}
                                                        </button>
                                                    }.into_any()
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
            <p class="lead">{text::REVOKE_ALL_LEAD}</p>
            <button class="button danger" type="button" data-testid="revoke-all-keys" on:click=revoke_all>
                {text::REVOKE_ALL}
            </button>
        </div>
    }
}

/// `2026-11-30T05:46:49Z` as `2026-11-30 05:46`.
fn day(t: &str) -> String {
    t.get(..16).map(|s| s.replace('T', " ")).unwrap_or_else(|| t.to_string())
}
