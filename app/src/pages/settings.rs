//! Settings: materials and spools, users and roles, quotas, quiet hours, notifications and AI model
//! packs. Every change goes through the same code (and audit) as the REST API.

use leptos::prelude::*;
use serde_json::{json, Map, Value};

use crate::api::printers::{
    add_material, add_spool, add_user, add_window, change_farm_setting, delete_window, farm_settings, list_materials,
    list_model_packs, list_spools, list_users, list_windows, model_pack_action, weigh_spool, MaterialView,
    ModelPackView, SpoolView, UserView, WindowView,
};
use crate::pages::printers::{positive, say, trim_number};

/// The page's words, kept together for translation.
mod text {
    pub const TITLE: &str = "Settings";
    pub const LOADING: &str = "Loading…";
    pub const MATERIALS: &str = "Materials";
    pub const SPOOLS: &str = "Spools";
    pub const USERS: &str = "Users and roles";
    pub const QUOTAS: &str = "Quotas";
    pub const QUOTA_NOTE: &str = "How many things each role may generate per hour. Leave empty for no limit.";
    pub const QUIET: &str = "Quiet hours";
    pub const QUIET_NOTE: &str = "No print starts during quiet hours. Times are UTC.";
    pub const NOTIFY: &str = "Notifications";
    pub const NOTIFY_NOTE: &str = "The farm posts each notification (job done, printer needs help) to this address.";
    pub const AI: &str = "AI shapes";
    pub const SAVED: &str = "Saved.";
    pub const NO_PACKS: &str =
        "No AI model pack is installed. Install one from a USB stick with: printfarm models install PATH";
}

/// The roles, lowest first, as the database spells them.
const ROLES: [&str; 5] = ["kiosk", "maker", "teacher", "manager", "admin"];
/// The roles a generation quota applies to (managers and admins have none).
const QUOTA_ROLES: [(&str, &str, i64); 3] =
    [("kiosk", "Kiosk", 30), ("maker", "Maker", 30), ("teacher", "Teacher", 120)];
const KINDS: [&str; 8] = ["PLA", "PETG", "ABS", "ASA", "TPU", "PA", "PC", "OTHER"];

/// "22:30" → the farm's six-field cron for every day at that time (UTC).
pub(crate) fn daily_cron(time: &str) -> Result<String, String> {
    let bad = || "Type the start time as hours and minutes, like 22:30.".to_string();
    let (h, m) = time.trim().split_once(':').ok_or_else(bad)?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(format!("0 {m} {h} * * *"))
}

/// A window's schedule in words: "every day at 22:30 for 8 h 00 min".
pub(crate) fn describe_window(cron: &str, minutes: i64) -> String {
    let f: Vec<&str> = cron.split_whitespace().collect();
    let when = match f.as_slice() {
        [_, m, h, "*", "*", "*"] => match (h.parse::<u32>(), m.parse::<u32>()) {
            (Ok(h), Ok(m)) => format!("every day at {h:02}:{m:02}"),
            _ => format!("at {cron}"),
        },
        _ => format!("at {cron}"),
    };
    format!("{when} for {}", crate::wire::format_duration(minutes.max(0) as u32 * 60))
}

/// A text field as a quota: empty is no limit.
pub(crate) fn quota_value(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    t.parse::<u64>().map(Value::from).map_err(|_| "A quota is a whole number, like 30, or empty for no limit.".into())
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <section class="page pf-settings">
            <h1>{text::TITLE}</h1>
            <nav class="chips" aria-label="Settings sections">
                <a class="chip" href="#materials">{text::MATERIALS}</a>
                <a class="chip" href="#users">{text::USERS}</a>
                <a class="chip" href="#quotas">{text::QUOTAS}</a>
                <a class="chip" href="#quiet">{text::QUIET}</a>
                <a class="chip" href="#notify">{text::NOTIFY}</a>
                <a class="chip" href="#ai">{text::AI}</a>
            </nav>
            <Materials/>
            <Users/>
            <FarmSettings/>
            <QuietHours/>
            <ModelPacks/>
        </section>
    }
    .into_any()
}

fn error_line(error: RwSignal<Option<String>>) -> impl IntoView {
    move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })
}

#[component]
fn Materials() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let data = Resource::new(
        move || reload.get(),
        |_| async move { Ok::<_, ServerFnError>((list_materials().await?, list_spools().await?)) },
    );
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("PLA".to_string());
    let cost = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        if name.get().trim().is_empty() {
            return error.set(Some("Give the material a name, like \"Prusament PLA Galaxy Black\".".into()));
        }
        let cost_per_kg = match cost.get().trim() {
            "" => None,
            c => match positive(c) {
                Some(v) => Some(v),
                None => return error.set(Some("The price per kilogram is a number, like 25.".into())),
            },
        };
        let (n, k) = (name.get(), kind.get());
        leptos::task::spawn_local(async move {
            match add_material(n, k, cost_per_kg).await {
                Ok(()) => {
                    name.set(String::new());
                    cost.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <section class="pf-panel" id="materials">
            <h2>{text::MATERIALS}</h2>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || data.get().map(|r| match r {
                    Ok((materials, spools)) => view! { <MaterialTables materials spools reload/> }.into_any(),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            <form class="pf-form pf-inline" data-testid="material-form" on:submit=add>
                <label>"New material"<input type="text" maxlength="80" data-testid="material-name" prop:value=name on:input=move |e| name.set(event_target_value(&e))/></label>
                <label>"Kind"
                    <select data-testid="material-kind" prop:value=kind on:change=move |e| kind.set(event_target_value(&e))>
                        {KINDS.iter().map(|k| view! { <option value=*k>{*k}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Price per kg"<input type="text" inputmode="decimal" prop:value=cost on:input=move |e| cost.set(event_target_value(&e))/></label>
                <button class="pf-btn pf-primary" type="submit" data-testid="material-add">"Add material"</button>
            </form>
            {error_line(error)}
        </section>
    }
    .into_any()
}

#[component]
fn MaterialTables(materials: Vec<MaterialView>, spools: Vec<SpoolView>, reload: RwSignal<u32>) -> impl IntoView {
    let material = RwSignal::new(materials.first().map(|m| m.id.to_string()).unwrap_or_default());
    let colour = RwSignal::new(String::new());
    let grams = RwSignal::new("1000".to_string());
    let error = RwSignal::new(None::<String>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let Ok(m) = material.get().parse::<i64>() else {
            return error.set(Some("Pick the spool's material first.".into()));
        };
        if colour.get().trim().is_empty() {
            return error.set(Some("Type the spool's colour, like Red.".into()));
        }
        let Some(g) = positive(&grams.get()) else {
            return error.set(Some("Type how much filament the spool holds, in grams, like 1000.".into()));
        };
        let c = colour.get();
        leptos::task::spawn_local(async move {
            match add_spool(m, c, g).await {
                Ok(()) => {
                    colour.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let material_options = materials.clone();
    view! {
        <table class="pf-table" data-testid="materials">
            <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Price per kg"</th></tr></thead>
            <tbody>
                {materials.into_iter().map(|m| view! {
                    <tr data-testid="material-row">
                        <td>{m.name}</td><td>{m.kind}</td>
                        <td>{m.cost_per_kg.map(trim_number).unwrap_or_else(|| "–".into())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h3 id="spools">{text::SPOOLS}</h3>
        {if spools.is_empty() {
            view! { <p class="muted">"No spools yet. Add one below."</p> }.into_any()
        } else {
            view! {
                <table class="pf-table" data-testid="spools">
                    <thead><tr><th>"Spool"</th><th>"Left"</th><th>"On printer"</th><th>"Weigh (g left)"</th></tr></thead>
                    <tbody>
                        {spools.into_iter().map(|s| view! { <SpoolRow spool=s reload/> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        <form class="pf-form pf-inline" data-testid="spool-form" on:submit=add>
            <label>"Material"
                <select prop:value=material on:change=move |e| material.set(event_target_value(&e))>
                    {material_options.into_iter().map(|m| view! { <option value=m.id.to_string()>{format!("{} ({})", m.name, m.kind)}</option> }).collect_view()}
                </select>
            </label>
            <label>"Colour"<input type="text" maxlength="40" data-testid="spool-colour" prop:value=colour on:input=move |e| colour.set(event_target_value(&e))/></label>
            <label>"Grams"<input type="text" inputmode="decimal" prop:value=grams on:input=move |e| grams.set(event_target_value(&e))/></label>
            <button class="pf-btn" type="submit" data-testid="spool-add">"Add spool"</button>
        </form>
        {error_line(error)}
    }
    .into_any()
}

#[component]
fn SpoolRow(spool: SpoolView, reload: RwSignal<u32>) -> impl IntoView {
    let grams = RwSignal::new(format!("{:.0}", spool.remaining_g));
    let error = RwSignal::new(None::<String>);
    let id = spool.id;
    let weigh = move |_| {
        error.set(None);
        let Ok(g) = grams.get().trim().parse::<f64>() else {
            return error.set(Some("Type the grams left, like 640.".into()));
        };
        leptos::task::spawn_local(async move {
            match weigh_spool(id, g).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <tr data-testid="spool-row">
            <td>{format!("{} · {} · {}", spool.material_kind, spool.material_name, spool.colour_name)}</td>
            <td>{format!("{:.0} of {:.0} g", spool.remaining_g, spool.initial_g)}</td>
            <td>{spool.printer_id.map(|p| view! { <a href=format!("/printers/{p}")>{format!("printer {p}")}</a> })}</td>
            <td class="pf-weigh">
                <input type="text" inputmode="decimal" aria-label="Grams left" prop:value=grams on:input=move |e| grams.set(event_target_value(&e))/>
                <button class="pf-btn" on:click=weigh>"Save"</button>
                {error_line(error)}
            </td>
        </tr>
    }
    .into_any()
}

#[component]
fn Users() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let users = Resource::new(move || reload.get(), |_| list_users());
    let username = RwSignal::new(String::new());
    let display = RwSignal::new(String::new());
    let role = RwSignal::new("maker".to_string());
    let password = RwSignal::new(String::new());
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let (u, d, r) = (username.get(), display.get(), role.get());
        let (pw, p) = (Some(password.get()), Some(pin.get()));
        leptos::task::spawn_local(async move {
            match add_user(u, d, r, pw, p).await {
                Ok(_) => {
                    username.set(String::new());
                    display.set(String::new());
                    password.set(String::new());
                    pin.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let table = |list: Vec<UserView>| {
        if list.is_empty() {
            return view! { <p class="muted">"No users yet. Add the first one below."</p> }.into_any();
        }
        view! {
            <table class="pf-table" data-testid="users">
                <thead><tr><th>"Name"</th><th>"Username"</th><th>"Role"</th></tr></thead>
                <tbody>
                    {list.into_iter().map(|u| view! {
                        <tr data-testid="user-row">
                            <td>{u.display_name}{u.disabled.then_some(" (disabled)")}</td><td>{u.username}</td><td>{u.role}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="pf-panel" id="users">
            <h2>{text::USERS}</h2>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || users.get().map(|r| match r {
                    Ok(list) => table(list),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            <form class="pf-form pf-inline" data-testid="user-form" on:submit=add>
                <label>"Username"<input type="text" maxlength="40" autocomplete="off" data-testid="user-name" prop:value=username on:input=move |e| username.set(event_target_value(&e))/></label>
                <label>"Full name"<input type="text" maxlength="80" prop:value=display on:input=move |e| display.set(event_target_value(&e))/></label>
                <label>"Role"
                    <select data-testid="user-role" prop:value=role on:change=move |e| role.set(event_target_value(&e))>
                        {ROLES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Password"<input type="password" minlength="8" autocomplete="new-password" data-testid="user-password" prop:value=password on:input=move |e| password.set(event_target_value(&e))/></label>
                <label>"PIN (kiosk)"<input type="password" inputmode="numeric" maxlength="8" autocomplete="off" data-testid="user-pin" prop:value=pin on:input=move |e| pin.set(event_target_value(&e))/></label>
                <button class="pf-btn pf-primary" type="submit" data-testid="user-add">"Add user"</button>
            </form>
            <p class="muted">"People sign in with the password; at a kiosk, with their name and PIN. A kiosk account is the touchscreen's own: sign the kiosk in with it."</p>
            {error_line(error)}
        </section>
    }
    .into_any()
}

#[component]
fn FarmSettings() -> impl IntoView {
    let settings = Resource::new(|| (), |_| farm_settings());
    view! {
        <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
            {move || settings.get().map(|r| match r {
                Ok(json) => {
                    let map: Map<String, Value> = serde_json::from_str(&json).unwrap_or_default();
                    view! { <SettingsForms map/> }.into_any()
                }
                Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
            })}
        </Suspense>
    }
    .into_any()
}

/// Saves one farm setting and says how it went.
fn save_setting(key: &'static str, value: Value, said: RwSignal<Option<Result<String, String>>>) {
    said.set(None);
    leptos::task::spawn_local(async move {
        match change_farm_setting(key.into(), value.to_string()).await {
            // The form already shows what was saved; re-reading would rebuild it and lose this message.
            Ok(_) => said.set(Some(Ok(text::SAVED.into()))),
            Err(e) => said.set(Some(Err(say(e)))),
        }
    });
}

fn said_line(said: RwSignal<Option<Result<String, String>>>, testid: &'static str) -> impl IntoView {
    move || {
        said.get().map(|r| match r {
            Ok(m) => view! { <p class="pf-ok" role="status" data-testid=testid>{m}</p> }.into_any(),
            Err(e) => view! { <p class="pf-error" role="alert" data-testid=testid>{e}</p> }.into_any(),
        })
    }
}

#[component]
fn SettingsForms(map: Map<String, Value>) -> impl IntoView {
    let quotas = map.get("generation_quota_per_hour").and_then(|v| v.as_object()).cloned().unwrap_or_default();
    let quota_fields: Vec<(&'static str, &'static str, RwSignal<String>)> = QUOTA_ROLES
        .iter()
        .map(|(role, label, default)| {
            let now = match quotas.get(*role) {
                Some(Value::Null) => String::new(),
                Some(v) => v.as_u64().map(|n| n.to_string()).unwrap_or_default(),
                None => default.to_string(),
            };
            (*role, *label, RwSignal::new(now))
        })
        .collect();
    let max_heating =
        RwSignal::new(map.get("max_heating").and_then(|v| v.as_u64()).map(|n| n.to_string()).unwrap_or_default());
    let webhook = RwSignal::new(map.get("webhook_url").and_then(|v| v.as_str()).unwrap_or("").to_string());
    let approve_ai = map.get("approve_ai_output").and_then(|v| v.as_bool()).unwrap_or(false);
    let on_cpu = map.get("shap_e_on_cpu").and_then(|v| v.as_bool()).unwrap_or(false);
    let quota_said = RwSignal::new(None);
    let heat_said = RwSignal::new(None);
    let hook_said = RwSignal::new(None);
    let ai_said = RwSignal::new(None);

    let fields = quota_fields.clone();
    let save_quotas = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut out = Map::new();
        for (role, _, field) in &fields {
            match quota_value(&field.get()) {
                Ok(v) => {
                    out.insert(role.to_string(), v);
                }
                Err(e) => return quota_said.set(Some(Err(e))),
            }
        }
        save_setting("generation_quota_per_hour", Value::Object(out), quota_said);
    };
    let save_heating = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match quota_value(&max_heating.get()) {
            Ok(Value::Number(n)) if n.as_u64() == Some(0) => {
                heat_said.set(Some(Err("At least 1 printer must be allowed to heat, or leave it empty.".into())))
            }
            Ok(v) => save_setting("max_heating", v, heat_said),
            Err(_) => heat_said.set(Some(Err("Type a whole number, like 4, or leave it empty.".into()))),
        }
    };
    let save_hook = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let url = webhook.get().trim().to_string();
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return hook_said.set(Some(Err("The address must start with http:// or https://.".into())));
        }
        save_setting("webhook_url", if url.is_empty() { Value::Null } else { json!(url) }, hook_said);
    };
    view! {
        <section class="pf-panel" id="quotas">
            <h2>{text::QUOTAS}</h2>
            <p class="muted">{text::QUOTA_NOTE}</p>
            <form class="pf-form pf-inline" data-testid="quota-form" on:submit=save_quotas>
                {quota_fields.into_iter().map(|(role, label, field)| view! {
                    <label>{format!("{label} (per hour)")}
                        <input type="text" inputmode="numeric" data-testid=format!("quota-{role}") prop:value=field on:input=move |e| field.set(event_target_value(&e))/>
                    </label>
                }).collect_view()}
                <button class="pf-btn pf-primary" type="submit" data-testid="quota-save">"Save quotas"</button>
            </form>
            {said_line(quota_said, "quota-said")}
            <form class="pf-form pf-inline" on:submit=save_heating>
                <label>"Printers heating at once (empty: no limit)"
                    <input type="text" inputmode="numeric" prop:value=max_heating on:input=move |e| max_heating.set(event_target_value(&e))/>
                </label>
                <button class="pf-btn" type="submit">"Save"</button>
            </form>
            {said_line(heat_said, "heating-said")}
        </section>
        <section class="pf-panel" id="notify">
            <h2>{text::NOTIFY}</h2>
            <p class="muted">{text::NOTIFY_NOTE}</p>
            <form class="pf-form pf-inline" on:submit=save_hook>
                <label>"Webhook address"<input type="url" data-testid="webhook" placeholder="https://chat.example.org/hooks/farm" prop:value=webhook on:input=move |e| webhook.set(event_target_value(&e))/></label>
                <button class="pf-btn" type="submit" data-testid="webhook-save">"Save"</button>
            </form>
            {said_line(hook_said, "webhook-said")}
        </section>
        <section class="pf-panel" id="ai">
            <h2>{text::AI}</h2>
            <label class="pf-check">
                <input type="checkbox" data-testid="approve-ai" prop:checked=approve_ai
                    on:change=move |e| save_setting("approve_ai_output", json!(event_target_checked(&e)), ai_said)/>
                "A teacher approves AI-made models before they print"
            </label>
            <label class="pf-check">
                <input type="checkbox" prop:checked=on_cpu
                    on:change=move |e| save_setting("shap_e_on_cpu", json!(event_target_checked(&e)), ai_said)/>
                "Run the AI model on the processor when there is no graphics card (slow)"
            </label>
            {said_line(ai_said, "ai-said")}
        </section>
    }
    .into_any()
}

#[component]
fn QuietHours() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let windows = Resource::new(move || reload.get(), |_| list_windows());
    let kind = RwSignal::new("quiet".to_string());
    let label = RwSignal::new(String::new());
    let start = RwSignal::new("22:00".to_string());
    let hours = RwSignal::new("8".to_string());
    let error = RwSignal::new(None::<String>);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let cron = match daily_cron(&start.get()) {
            Ok(c) => c,
            Err(e) => return error.set(Some(e)),
        };
        let Some(h) = positive(&hours.get()).filter(|h| *h <= 24.0 * 7.0) else {
            return error.set(Some("Type how many hours it lasts, like 8.".into()));
        };
        let (k, l) = (kind.get(), label.get());
        leptos::task::spawn_local(async move {
            match add_window(k, l, cron, (h * 60.0).round() as i64).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let remove = move |id: i64| {
        leptos::task::spawn_local(async move {
            match delete_window(id).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let list = move |list: Vec<WindowView>| {
        if list.is_empty() {
            return view! { <p class="muted">"No quiet hours: prints may start at any time."</p> }.into_any();
        }
        view! {
            <ul class="pf-windows" data-testid="windows">
                {list.into_iter().map(|w| {
                    let id = w.id;
                    let name = if w.label.is_empty() { w.kind.clone() } else { format!("{} ({})", w.label, w.kind) };
                    view! {
                        <li data-testid="window">
                            <span><strong>{name}</strong>{format!(" · {}", describe_window(&w.cron, w.duration_min))}</span>
                            <button class="pf-btn" on:click=move |_| remove(id)>"Delete"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="pf-panel" id="quiet">
            <h2>{text::QUIET}</h2>
            <p class="muted">{text::QUIET_NOTE}</p>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || windows.get().map(|r| match r {
                    Ok(l) => list(l),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            <form class="pf-form pf-inline" data-testid="window-form" on:submit=add>
                <label>"Kind"
                    <select prop:value=kind on:change=move |e| kind.set(event_target_value(&e))>
                        <option value="quiet">"Quiet hours (no starts)"</option>
                        <option value="overnight">"Overnight (long prints)"</option>
                        <option value="maintenance">"Maintenance"</option>
                    </select>
                </label>
                <label>"Name"<input type="text" maxlength="60" placeholder="Night" prop:value=label on:input=move |e| label.set(event_target_value(&e))/></label>
                <label>"Starts (UTC)"<input type="time" data-testid="window-start" prop:value=start on:input=move |e| start.set(event_target_value(&e))/></label>
                <label>"Hours"<input type="text" inputmode="decimal" prop:value=hours on:input=move |e| hours.set(event_target_value(&e))/></label>
                <button class="pf-btn pf-primary" type="submit" data-testid="window-add">"Add"</button>
            </form>
            {error_line(error)}
        </section>
    }
    .into_any()
}

#[component]
fn ModelPacks() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let packs = Resource::new(move || reload.get(), |_| list_model_packs());
    let said = RwSignal::new(None::<Result<String, String>>);
    let act = move |action: &'static str, pack: Option<String>| {
        said.set(None);
        leptos::task::spawn_local(async move {
            let r = model_pack_action(action.into(), pack).await;
            said.set(Some(r.map_err(say)));
            reload.update(|n| *n += 1);
        });
    };
    let list = move |list: Vec<ModelPackView>| {
        if list.is_empty() {
            return view! { <p class="muted" data-testid="no-packs">{text::NO_PACKS}</p> }.into_any();
        }
        view! {
            <ul class="pf-packs" data-testid="packs">
                {list.into_iter().map(|p| {
                    let pack = p.id_version.clone();
                    view! {
                        <li>
                            <span><strong>{p.name.clone()}</strong>{format!(" · {} · {:.0} MB", p.version, p.megabytes)}</span>
                            {if p.active {
                                view! { <span class="pf-ok">"Active"</span> }.into_any()
                            } else {
                                view! { <button class="pf-btn" on:click=move |_| act("remove", Some(pack.clone()))>"Remove"</button> }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <button class="pf-btn" on:click=move |_| act("rollback", None)>"Go back to the previous pack"</button>
        }
        .into_any()
    };
    view! {
        <section class="pf-panel">
            <h3>"Model packs"</h3>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || packs.get().map(|r| match r {
                    Ok(l) => list(l),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            {said_line(said, "pack-said")}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_become_daily_crons_and_back() {
        assert_eq!(daily_cron("22:30").unwrap(), "0 30 22 * * *");
        assert_eq!(daily_cron(" 7:05 ").unwrap(), "0 5 7 * * *");
        assert!(daily_cron("25:00").is_err());
        assert!(daily_cron("tonight").is_err());
        assert_eq!(describe_window("0 30 22 * * *", 480), "every day at 22:30 for 8 h 00 min");
        assert_eq!(describe_window("0 0 8 * * 1-5", 30), "at 0 0 8 * * 1-5 for 30 min");
    }

    #[test]
    fn quotas_are_whole_numbers_or_none() {
        assert_eq!(quota_value(" 12 ").unwrap(), json!(12));
        assert_eq!(quota_value("").unwrap(), Value::Null);
        assert!(quota_value("-3").is_err());
        assert!(quota_value("lots").is_err());
    }
}
