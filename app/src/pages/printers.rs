//! Printers: the farm's printers with their profile, material and upkeep; discovery with one-click
//! add; adding by hand with a connection test; editing profiles; removing.

use leptos::prelude::*;

use crate::api::printers::{
    add_printer, discover_printers, printer_rows, remove_printer, test_printer_connection, update_printer,
    ConnectionTest, FoundPrinter, NewPrinterForm, PrinterRow, ProfileForm,
};
use crate::live::LiveFarm;
use crate::wire::{PrinterStateView, PrinterView};

/// The page's words, kept together for translation.
mod text {
    pub const TITLE: &str = "Printers";
    pub const NEED_NAME: &str = "Give the printer a name, like \"Prusa 3\".";
    pub const NEED_BED: &str = "The bed size needs three numbers in millimetres, like 220, 220 and 250.";
    pub const NEED_NOZZLE: &str = "The nozzle size is a number in millimetres, like 0.4.";
    pub const LOADING: &str = "Loading printers…";
    pub const NONE: &str = "No printers yet. Find them on USB and the network, or add one by hand below.";
    pub const FIND: &str = "Find printers";
    pub const FINDING: &str = "Looking on USB and the network. This takes a few seconds…";
    pub const FOUND_NONE: &str =
        "No printers found. Check that the printer is switched on and plugged in (or on the same network), then look again.";
    pub const ADD_BY_HAND: &str = "Add a printer by hand";
    pub const TEST: &str = "Test connection";
    pub const TESTING: &str = "Testing… (up to 10 seconds)";
    pub const ADD: &str = "Add printer";
    pub const EDIT: &str = "Edit";
    pub const SAVE: &str = "Save";
    pub const CANCEL: &str = "Cancel";
    pub const REMOVE: &str = "Remove";
    pub const REMOVE_SURE: &str = "Yes, remove it";
    pub const MAINT_OK: &str = "Maintenance up to date";
    pub const MAINT_NONE: &str = "No maintenance tasks";
    pub const NO_MATERIAL: &str = "No spool loaded";
}

/// A server function's error as a sentence a person can act on.
pub(crate) fn say(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        other => format!("The farm did not answer ({other}). Check the network and try again."),
    }
}

/// "220 × 220 × 250 mm".
pub(crate) fn bed_size(mm: [f64; 3]) -> String {
    format!("{} × {} × {} mm", trim_number(mm[0]), trim_number(mm[1]), trim_number(mm[2]))
}

/// 220.0 → "220", 0.4 → "0.4".
pub(crate) fn trim_number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A typed number, if it is one and above zero.
pub(crate) fn positive(text: &str) -> Option<f64> {
    text.trim().replace(',', ".").parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
}

/// The profile fields the add and edit forms share, checked: the name, the bed's x, y and z and the
/// nozzle (mm), or what to fix, in words.
fn checked_profile(name: &str, bed: [&str; 3], nozzle: &str) -> Result<(String, [f64; 3], f64), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(text::NEED_NAME.into());
    }
    let (Some(x), Some(y), Some(z)) = (positive(bed[0]), positive(bed[1]), positive(bed[2])) else {
        return Err(text::NEED_BED.into());
    };
    let nozzle = positive(nozzle).ok_or(text::NEED_NOZZLE)?;
    Ok((name.to_string(), [x, y, z], nozzle))
}

/// The firmware flavour a driver usually speaks.
fn default_flavour(driver: &str) -> &'static str {
    if driver == "moonraker" {
        "klipper"
    } else {
        "marlin2"
    }
}

/// The connection setting for the hand-made form, or what is missing.
fn connection_json(driver: &str, address: &str, baud: &str, key: &str) -> Result<String, String> {
    let address = address.trim();
    if address.is_empty() {
        return Err(match driver {
            "marlin" => "Type the serial port, like /dev/ttyUSB0.".into(),
            _ => "Type the printer's address, like http://octopi.local.".into(),
        });
    }
    let value = match driver {
        "marlin" if address.contains(':') && !address.starts_with('/') => serde_json::json!({ "tcp": address }),
        "marlin" => {
            let baud: u32 = baud.trim().parse().map_err(|_| "Pick a baud rate, like 115200.".to_string())?;
            serde_json::json!({ "port": address, "baud": baud })
        }
        _ => {
            if !(address.starts_with("http://") || address.starts_with("https://")) {
                return Err("The address must start with http:// or https://.".into());
            }
            let mut v = serde_json::json!({ "url": address.trim_end_matches('/') });
            if !key.trim().is_empty() {
                v["api_key"] = key.trim().into();
            } else if driver == "octoprint" {
                return Err("Type OctoPrint's API key (OctoPrint: Settings, then Application Keys).".into());
            }
            v
        }
    };
    Ok(value.to_string())
}

#[component]
pub fn PrintersPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let rows = Resource::new(move || reload.get(), |_| printer_rows());
    view! {
        <section class="page pf-printers">
            <h1>{text::TITLE}</h1>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || rows.get().map(|r| match r {
                    Ok(list) => view! { <PrinterList rows=list reload/> }.into_any(),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            <Discover reload/>
            <AddByHand reload/>
        </section>
    }
    .into_any()
}

#[component]
fn PrinterList(rows: Vec<PrinterRow>, reload: RwSignal<u32>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="empty">{text::NONE}</p> }.into_any();
    }
    let items = rows.into_iter().map(|row| view! { <PrinterItem row reload/> }).collect_view();
    view! { <ul class="pf-list" data-testid="printer-list">{items}</ul> }.into_any()
}

#[component]
fn PrinterItem(row: PrinterRow, reload: RwSignal<u32>) -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let id = row.id;
    let view_of = move || -> Option<PrinterView> {
        live.printers.with(|list| list.as_ref().and_then(|l| l.iter().find(|p| p.id == id).cloned()))
    };
    let state = move || view_of().map(|p| p.state).unwrap_or(PrinterStateView::Connecting);
    let material = move || view_of().and_then(|p| p.material).unwrap_or_else(|| text::NO_MATERIAL.into());
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let maint = if row.maintenance_tasks == 0 {
        view! { <span class="muted">{text::MAINT_NONE}</span> }.into_any()
    } else if row.maintenance_due.is_empty() {
        view! { <span class="pf-ok">{text::MAINT_OK}</span> }.into_any()
    } else {
        let due = format!("Due: {}", row.maintenance_due.join(", "));
        view! { <span class="pf-due" data-testid="maintenance-due">{due}</span> }.into_any()
    };
    let remove = move |_| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match remove_printer(id).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => {
                    confirming.set(false);
                    error.set(Some(say(e)));
                }
            }
        });
    };
    let edit_row = row.clone();
    view! {
        <li class="pf-item" data-testid="printer-row" data-printer-id=id data-state=move || state().key()>
            <div class="pf-item-head">
                <a class="pf-name" href=format!("/printers/{id}")>{row.name.clone()}</a>
                <span class=move || format!("pf-badge state-{}", state().key()) data-testid="printer-state">
                    {move || state().label()}
                </span>
            </div>
            <dl class="pf-facts">
                <div><dt>"Bed"</dt><dd>{bed_size(row.build_mm)}</dd></div>
                <div><dt>"Nozzle"</dt><dd>{format!("{} mm", trim_number(row.nozzle_mm))}</dd></div>
                <div><dt>"Firmware"</dt><dd>{format!("{} · {}", row.firmware, row.driver)}</dd></div>
                <div><dt>"Connection"</dt><dd>{row.address.clone()}</dd></div>
                <div><dt>"Material"</dt><dd data-testid="printer-material">{material}</dd></div>
                <div><dt>"Maintenance"</dt><dd>{maint}</dd></div>
            </dl>
            <div class="pf-actions">
                <a class="pf-btn" href=format!("/printers/{id}")>"Open"</a>
                <button class="pf-btn" data-testid="edit-printer" on:click=move |_| editing.update(|e| *e = !*e)>
                    {text::EDIT}
                </button>
                {move || if confirming.get() {
                    view! {
                        <span class="pf-confirm" role="alert">"Remove this printer from the farm?"</span>
                        <button class="pf-btn pf-danger" data-testid="confirm-remove" on:click=remove>{text::REMOVE_SURE}</button>
                        <button class="pf-btn" on:click=move |_| confirming.set(false)>{text::CANCEL}</button>
                    }.into_any()
                } else {
                    view! {
                        <button class="pf-btn" data-testid="remove-printer" on:click=move |_| confirming.set(true)>
                            {text::REMOVE}
                        </button>
                    }.into_any()
                }}
            </div>
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
            {move || editing.get().then(|| view! { <EditProfile row=edit_row.clone() editing reload/> })}
        </li>
    }
    .into_any()
}

#[component]
fn EditProfile(row: PrinterRow, editing: RwSignal<bool>, reload: RwSignal<u32>) -> impl IntoView {
    let name = RwSignal::new(row.name.clone());
    let x = RwSignal::new(trim_number(row.build_mm[0]));
    let y = RwSignal::new(trim_number(row.build_mm[1]));
    let z = RwSignal::new(trim_number(row.build_mm[2]));
    let nozzle = RwSignal::new(trim_number(row.nozzle_mm));
    let tags = RwSignal::new(row.tags.join(", "));
    let enabled = RwSignal::new(row.enabled);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let id = row.id;
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let (nm, build_mm, n) = match checked_profile(&name.get(), [&x.get(), &y.get(), &z.get()], &nozzle.get()) {
            Ok(p) => p,
            Err(e) => return error.set(Some(e)),
        };
        busy.set(true);
        let (tg, en) = (tags.get(), enabled.get());
        leptos::task::spawn_local(async move {
            let r = update_printer(ProfileForm { id, name: nm, build_mm, nozzle_mm: n, tags: tg, enabled: en }).await;
            busy.set(false);
            match r {
                Ok(()) => {
                    editing.set(false);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <form class="pf-form" data-testid="edit-form" on:submit=save>
            <label>"Name"<input type="text" maxlength="80" prop:value=name on:input=move |e| name.set(event_target_value(&e))/></label>
            <label>"Bed width (X, mm)"<input type="text" inputmode="decimal" data-testid="edit-x" prop:value=x on:input=move |e| x.set(event_target_value(&e))/></label>
            <label>"Bed depth (Y, mm)"<input type="text" inputmode="decimal" prop:value=y on:input=move |e| y.set(event_target_value(&e))/></label>
            <label>"Height (Z, mm)"<input type="text" inputmode="decimal" prop:value=z on:input=move |e| z.set(event_target_value(&e))/></label>
            <label>"Nozzle (mm)"<input type="text" inputmode="decimal" prop:value=nozzle on:input=move |e| nozzle.set(event_target_value(&e))/></label>
            <label>"Groups (comma-separated)"<input type="text" prop:value=tags on:input=move |e| tags.set(event_target_value(&e))/></label>
            <label class="pf-check"><input type="checkbox" prop:checked=enabled on:change=move |e| enabled.set(event_target_checked(&e))/>"Takes jobs"</label>
            <div class="pf-actions">
                <button class="pf-btn pf-primary" type="submit" data-testid="save-printer" disabled=busy>{text::SAVE}</button>
                <button class="pf-btn" type="button" on:click=move |_| editing.set(false)>{text::CANCEL}</button>
            </div>
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
        </form>
    }
    .into_any()
}

#[component]
fn Discover(reload: RwSignal<u32>) -> impl IntoView {
    let search = Action::new(|_: &()| discover_printers());
    view! {
        <section class="pf-panel" aria-labelledby="discover-title">
            <h2 id="discover-title">"Find printers"</h2>
            <p class="muted">"Printers plugged in by USB, and OctoPrint or Moonraker hosts on this network."</p>
            <button class="pf-btn pf-primary" data-testid="discover" disabled=move || search.pending().get()
                on:click=move |_| { search.dispatch(()); }>
                {text::FIND}
            </button>
            {move || search.pending().get().then(|| view! {
                <div class="pf-progress" role="status" data-testid="discover-progress">
                    <progress></progress>
                    <span>{text::FINDING}</span>
                </div>
            })}
            {move || (!search.pending().get()).then(|| search.value().get()).flatten().map(|r| match r {
                Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="found-none">{text::FOUND_NONE}</p> }.into_any(),
                Ok(list) => view! {
                    <ul class="pf-found" data-testid="found-list">
                        {list.into_iter().map(|f| view! { <FoundItem found=f reload/> }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
            })}
        </section>
    }
    .into_any()
}

#[component]
fn FoundItem(found: FoundPrinter, reload: RwSignal<u32>) -> impl IntoView {
    let key = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let added = RwSignal::new(found.already_added);
    let busy = RwSignal::new(false);
    let f = found.clone();
    let add = move |_| {
        error.set(None);
        let Some(driver) = f.driver.clone() else {
            error
                .set(Some("This does not look like a printer the farm can drive. Add it by hand if it is one.".into()));
            return;
        };
        let mut connection: serde_json::Value = serde_json::from_str(&f.connection).unwrap_or_default();
        if f.needs_key {
            if key.get().trim().is_empty() {
                error.set(Some("Type OctoPrint's API key first (OctoPrint: Settings, then Application Keys).".into()));
                return;
            }
            connection["api_key"] = key.get().trim().into();
        }
        busy.set(true);
        let name: String = f.label.chars().take(80).collect();
        leptos::task::spawn_local(async move {
            let flavour = default_flavour(&driver).to_string();
            let form = NewPrinterForm {
                name,
                driver,
                connection: connection.to_string(),
                build_mm: [220.0, 220.0, 250.0],
                nozzle_mm: 0.4,
                firmware: flavour,
            };
            let r = add_printer(form).await;
            busy.set(false);
            match r {
                Ok(_) => {
                    added.set(true);
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <li class="pf-found-item" data-testid="found-printer">
            <div>
                <strong>{found.label.clone()}</strong>
                <span class="pf-kind">{if found.kind == "usb" { "USB" } else { "Network" }}</span>
                <p class="muted">{found.detail.clone()}</p>
            </div>
            {found.needs_key.then(|| view! {
                <label>"API key"<input type="text" autocomplete="off" prop:value=key on:input=move |e| key.set(event_target_value(&e))/></label>
            })}
            {move || if added.get() {
                view! { <span class="pf-ok">"In the farm"</span> }.into_any()
            } else {
                view! { <button class="pf-btn pf-primary" data-testid="add-found" disabled=busy on:click=add.clone()>"Add"</button> }.into_any()
            }}
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
        </li>
    }
    .into_any()
}

#[component]
fn AddByHand(reload: RwSignal<u32>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let driver = RwSignal::new("octoprint".to_string());
    let address = RwSignal::new(String::new());
    let baud = RwSignal::new("115200".to_string());
    let key = RwSignal::new(String::new());
    let x = RwSignal::new("220".to_string());
    let y = RwSignal::new("220".to_string());
    let z = RwSignal::new("250".to_string());
    let nozzle = RwSignal::new("0.4".to_string());
    let flavour = RwSignal::new("marlin2".to_string());
    let error = RwSignal::new(None::<String>);
    let tested = RwSignal::new(None::<ConnectionTest>);
    let added = RwSignal::new(None::<String>);
    let testing = RwSignal::new(false);
    let adding = RwSignal::new(false);

    let connection = move || connection_json(&driver.get(), &address.get(), &baud.get(), &key.get());
    let test = move |_| {
        error.set(None);
        tested.set(None);
        match connection() {
            Err(e) => error.set(Some(e)),
            Ok(c) => {
                testing.set(true);
                let d = driver.get();
                leptos::task::spawn_local(async move {
                    let r = test_printer_connection(d, c).await;
                    testing.set(false);
                    match r {
                        Ok(t) => tested.set(Some(t)),
                        Err(e) => error.set(Some(say(e))),
                    }
                });
            }
        }
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        added.set(None);
        let (nm, build_mm, n) = match checked_profile(&name.get(), [&x.get(), &y.get(), &z.get()], &nozzle.get()) {
            Ok(p) => p,
            Err(e) => return error.set(Some(e)),
        };
        let c = match connection() {
            Ok(c) => c,
            Err(e) => return error.set(Some(e)),
        };
        adding.set(true);
        let (d, fl) = (driver.get(), flavour.get());
        leptos::task::spawn_local(async move {
            let form =
                NewPrinterForm { name: nm.clone(), driver: d, connection: c, build_mm, nozzle_mm: n, firmware: fl };
            let r = add_printer(form).await;
            adding.set(false);
            match r {
                Ok(_) => {
                    added.set(Some(format!("{} was added.", nm.trim())));
                    name.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <section class="pf-panel" aria-labelledby="add-title">
            <h2 id="add-title">{text::ADD_BY_HAND}</h2>
            <form class="pf-form" data-testid="add-form" on:submit=add>
                <label>"Name"<input type="text" maxlength="80" data-testid="add-name" prop:value=name on:input=move |e| name.set(event_target_value(&e))/></label>
                <label>"How it connects"
                    <select data-testid="add-driver" prop:value=driver on:change=move |e| {
                        let d = event_target_value(&e);
                        flavour.set(default_flavour(&d).into());
                        driver.set(d);
                    }>
                        <option value="octoprint">"OctoPrint (address and API key)"</option>
                        <option value="moonraker">"Moonraker / Klipper (address)"</option>
                        <option value="marlin">"USB cable (serial port)"</option>
                    </select>
                </label>
                <label>{move || if driver.get() == "marlin" { "Serial port (or host:port)" } else { "Address" }}
                    <input type="text" data-testid="add-address" autocomplete="off"
                        placeholder=move || match driver.get().as_str() { "marlin" => "/dev/ttyUSB0", "moonraker" => "http://voron.local:7125", _ => "http://octopi.local" }
                        prop:value=address on:input=move |e| address.set(event_target_value(&e))/>
                </label>
                {move || (driver.get() == "marlin").then(|| view! {
                    <label>"Baud rate"
                        <select prop:value=baud on:change=move |e| baud.set(event_target_value(&e))>
                            <option value="115200">"115200"</option>
                            <option value="250000">"250000"</option>
                            <option value="57600">"57600"</option>
                        </select>
                    </label>
                })}
                {move || (driver.get() != "marlin").then(|| view! {
                    <label>{move || if driver.get() == "octoprint" { "API key" } else { "API key (if set)" }}
                        <input type="text" autocomplete="off" data-testid="add-key" prop:value=key on:input=move |e| key.set(event_target_value(&e))/>
                    </label>
                })}
                <label>"Bed width (X, mm)"<input type="text" inputmode="decimal" prop:value=x on:input=move |e| x.set(event_target_value(&e))/></label>
                <label>"Bed depth (Y, mm)"<input type="text" inputmode="decimal" prop:value=y on:input=move |e| y.set(event_target_value(&e))/></label>
                <label>"Height (Z, mm)"<input type="text" inputmode="decimal" prop:value=z on:input=move |e| z.set(event_target_value(&e))/></label>
                <label>"Nozzle (mm)"<input type="text" inputmode="decimal" prop:value=nozzle on:input=move |e| nozzle.set(event_target_value(&e))/></label>
                <label>"G-code flavour"
                    <select prop:value=flavour on:change=move |e| flavour.set(event_target_value(&e))>
                        <option value="marlin2">"Marlin 2"</option>
                        <option value="klipper">"Klipper"</option>
                        <option value="reprapfirmware">"RepRapFirmware"</option>
                    </select>
                </label>
                <div class="pf-actions">
                    <button class="pf-btn" type="button" data-testid="test-connection" disabled=testing on:click=test>
                        {move || if testing.get() { text::TESTING } else { text::TEST }}
                    </button>
                    <button class="pf-btn pf-primary" type="submit" data-testid="add-printer" disabled=adding>{text::ADD}</button>
                </div>
            </form>
            {move || tested.get().map(|t| view! {
                <p class=if t.ok { "pf-ok" } else { "pf-error" } role="status" data-testid="test-result">{t.message}</p>
            })}
            {move || added.get().map(|m| view! { <p class="pf-ok" role="status" data-testid="added">{m}</p> })}
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert" data-testid="add-error">{e}</p> })}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(bed_size([220.0, 220.0, 250.0]), "220 × 220 × 250 mm");
        assert_eq!(trim_number(0.4), "0.4");
        assert_eq!(trim_number(0.25), "0.25");
        assert_eq!(positive("0,6"), Some(0.6));
        assert_eq!(positive("-1"), None);
        assert_eq!(positive("abc"), None);
    }

    #[test]
    fn both_forms_check_the_profile_alike() {
        assert_eq!(
            checked_profile(" Prusa 3 ", ["250", "210", "220"], "0,4"),
            Ok(("Prusa 3".into(), [250.0, 210.0, 220.0], 0.4))
        );
        assert_eq!(checked_profile("  ", ["250", "210", "220"], "0.4").unwrap_err(), text::NEED_NAME);
        assert_eq!(checked_profile("P", ["250", "", "220"], "0.4").unwrap_err(), text::NEED_BED);
        assert_eq!(checked_profile("P", ["250", "210", "-5"], "0.4").unwrap_err(), text::NEED_BED);
        assert_eq!(checked_profile("P", ["250", "210", "220"], "big").unwrap_err(), text::NEED_NOZZLE);
    }

    #[test]
    fn hand_made_connections() {
        assert_eq!(
            connection_json("marlin", "/dev/ttyUSB0", "250000", "").unwrap(),
            r#"{"baud":250000,"port":"/dev/ttyUSB0"}"#
        );
        assert_eq!(connection_json("marlin", "10.0.0.9:23", "115200", "").unwrap(), r#"{"tcp":"10.0.0.9:23"}"#);
        assert_eq!(
            connection_json("moonraker", "http://voron.local:7125/", "", "").unwrap(),
            r#"{"url":"http://voron.local:7125"}"#
        );
        assert!(connection_json("octoprint", "http://octopi.local", "", "").unwrap_err().contains("API key"));
        assert!(connection_json("octoprint", "octopi.local", "", "k").unwrap_err().contains("http://"));
        assert!(connection_json("marlin", " ", "", "").is_err());
    }
}
