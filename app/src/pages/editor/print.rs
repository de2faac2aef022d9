//! The send-to-print panel: material and colour (only what the farm has loaded or in stock),
//! quality, copies and printer group; a real slice's time, filament and cost before confirming; then
//! where the job went.

use leptos::prelude::*;

use super::text;
use crate::api::editor::{
    estimate_print, print_options, send_to_print, PrintEstimate, PrintOrder, SentToPrint, QUALITIES,
};

fn message(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        other => other.to_string(),
    }
}

#[component]
pub fn PrintPanel(
    version: RwSignal<Option<i64>>,
    on_bed: impl Fn([f32; 3]) + Copy + Send + Sync + 'static,
    on_close: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let options = LocalResource::new(print_options);
    let material = RwSignal::new(String::new());
    let colour = RwSignal::new(String::new());
    let quality = RwSignal::new("normal".to_string());
    let copies = RwSignal::new(1i64);
    let group = RwSignal::new(String::new());
    let estimated = RwSignal::new(None::<(PrintOrder, PrintEstimate)>);
    let estimate_error = RwSignal::new(None::<String>);
    let sent = RwSignal::new(None::<SentToPrint>);
    let send_error = RwSignal::new(None::<String>);

    let order = move || {
        Some(PrintOrder {
            version_id: version.get()?,
            material: material.get(),
            colour: colour.get(),
            quality: quality.get(),
            copies: copies.get(),
            group: Some(group.get()).filter(|g| !g.is_empty()),
        })
    };
    let estimate = Action::new(|o: &PrintOrder| {
        let o = o.clone();
        async move { (o.clone(), estimate_print(o).await) }
    });
    let send = Action::new(|o: &PrintOrder| send_to_print(o.clone()));
    let check = move || {
        if let Some(o) = order() {
            estimate_error.set(None);
            estimate.dispatch(o);
        }
    };

    // Defaults once the farm's options arrive: a loaded colour first; then a first estimate.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let Some(Ok(o)) = options.get() else { return false };
        let first = o
            .materials
            .iter()
            .flat_map(|m| m.colours.iter().map(move |c| (m, c)))
            .max_by_key(|(m, c)| (c.loaded, m.kind == "PLA"));
        if let Some((m, c)) = first {
            material.set(m.kind.clone());
            colour.set(c.name.clone());
            check();
        }
        true
    });
    Effect::new(move |_| {
        if let Some((o, result)) = estimate.value().get() {
            match result {
                Ok(e) => estimated.set(Some((o, e))),
                Err(e) => estimate_error.set(Some(text::estimate_failed(&message(e)))),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = send.value().get() {
            match result {
                Ok(s) => sent.set(Some(s)),
                Err(e) => send_error.set(Some(text::send_failed(&message(e)))),
            }
        }
    });
    let current = move || estimated.get().filter(|(o, _)| Some(o) == order().as_ref()).map(|(_, e)| e);

    view! {
        <section class="print-panel card" role="dialog" aria-label="Send to print" data-testid="print-panel">
            <h2>"Send to print"</h2>
            <Suspense fallback=|| view! { <p>"Loading the farm's materials…"</p> }>
                {move || {
                    options.get().map(|r| match r {
                        Err(e) => view! { <p class="error" role="alert">{message(e)}</p> }.into_any(),
                        Ok(o) if o.materials.is_empty() => view! { <p class="error" role="alert" data-testid="no-material">{text::NO_MATERIAL}</p> }.into_any(),
                        Ok(o) => {
                            let kinds: Vec<String> = o.materials.iter().map(|m| m.kind.clone()).collect();
                            let mats = o.materials.clone();
                            let groups = o.groups.clone();
                            let any_bed = o.any_bed;
                            view! {
                                <div class="choice-group" role="radiogroup" aria-label="Material">
                                    <span class="label">"Material"</span>
                                    {kinds.into_iter().map(|k| {
                                        let (k_checked, k_active, k_click, k_label) = (k.clone(), k.clone(), k.clone(), k);
                                        let mats = mats.clone();
                                        view! {
                                            <button type="button" role="radio" class="choice" data-testid="material"
                                                aria-checked=move || (material.get() == k_checked).to_string()
                                                class:active=move || material.get() == k_active
                                                on:click=move |_| {
                                                    material.set(k_click.clone());
                                                    if let Some(c) = mats.iter().find(|m| m.kind == k_click).and_then(|m| m.colours.first()) {
                                                        colour.set(c.name.clone());
                                                    }
                                                }>
                                                {k_label}
                                            </button>
                                        }
                                    }).collect_view()}
                                </div>
                                <div class="choice-group" role="radiogroup" aria-label="Colour">
                                    <span class="label">"Colour"</span>
                                    {move || {
                                        mats.iter().filter(|m| m.kind == material.get()).flat_map(|m| m.colours.clone()).map(|c| {
                                            let (n_checked, n_active, n_click) = (c.name.clone(), c.name.clone(), c.name.clone());
                                            let swatch = c.hex.clone().unwrap_or_else(|| "transparent".into());
                                            let note = if c.loaded { "loaded".to_string() } else { format!("in stock, {:.0} g", c.grams_left) };
                                            view! {
                                                <button type="button" role="radio" class="choice colour" data-testid="colour"
                                                    aria-checked=move || (colour.get() == n_checked).to_string()
                                                    class:active=move || colour.get() == n_active
                                                    on:click=move |_| colour.set(n_click.clone())>
                                                    <span class="swatch" style=format!("background: {swatch}")></span>
                                                    {c.name}
                                                    <small>{note}</small>
                                                </button>
                                            }
                                        }).collect_view()
                                    }}
                                </div>
                                <div class="choice-group" role="radiogroup" aria-label="Quality">
                                    <span class="label">"Quality"</span>
                                    {QUALITIES.iter().map(|(word, label, _)| {
                                        view! {
                                            <button type="button" role="radio" class="choice" data-testid=format!("quality-{word}")
                                                aria-checked=move || (quality.get() == *word).to_string()
                                                class:active=move || quality.get() == *word
                                                on:click=move |_| quality.set(word.to_string())>
                                                {*label}
                                            </button>
                                        }
                                    }).collect_view()}
                                </div>
                                <div class="row">
                                    <label>
                                        "Copies "
                                        <input type="number" min="1" max="100" data-testid="copies" inputmode="numeric"
                                            prop:value=move || copies.get().to_string()
                                            on:change=move |ev| {
                                                if let Ok(n) = event_target_value(&ev).trim().parse::<i64>() {
                                                    copies.set(n.clamp(1, 100));
                                                }
                                            }/>
                                    </label>
                                    <label>
                                        "Printers "
                                        <select data-testid="group" on:change=move |ev| {
                                            let g = event_target_value(&ev);
                                            let bed = groups.iter().find(|x| x.name == g).map_or(any_bed, |x| x.bed);
                                            group.set(g);
                                            on_bed(bed);
                                        }>
                                            <option value="" selected=true>{format!("Any printer ({})", o.printers)}</option>
                                            {o.groups.iter().map(|g| view! {
                                                <option value=g.name.clone()>{format!("{} ({} printers)", g.name, g.printers)}</option>
                                            }).collect_view()}
                                        </select>
                                    </label>
                                </div>
                            }.into_any()
                        }
                    })
                }}
            </Suspense>
            <div class="estimate" data-testid="estimate" aria-live="polite" aria-busy=move || estimate.pending().get().to_string()>
                {move || {
                    if estimate.pending().get() {
                        view! { <p class="busy"><span class="spinner" aria-hidden="true"></span>{text::SLICING}</p> }.into_any()
                    } else if let Some(e) = current() {
                        let cost = e.cost.map(|c| format!(", material costs {c:.2}")).unwrap_or_default();
                        view! {
                            <p data-testid="estimate-text">
                                {format!(
                                    "{} copies: about {} of printing and {:.1} g of filament{cost} (sliced for {}).",
                                    e.copies,
                                    text::duration(e.print_time_s),
                                    e.filament_g,
                                    e.printer,
                                )}
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" data-testid="check-estimate" on:click=move |_| check()>"Work out time and cost"</button>
                        }.into_any()
                    }
                }}
                {move || estimate_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
            {move || match sent.get() {
                Some(s) => {
                    let first = s.job_ids.first().copied().unwrap_or_default();
                    let words = if s.state == "awaiting_approval" {
                        "Sent! It is waiting for a teacher to approve it."
                    } else {
                        "Sent! It is in the queue."
                    };
                    view! {
                        <div class="sent" role="status" data-testid="sent" data-state=s.state.clone() data-job=first.to_string()>
                            <p>{words}</p>
                            <a class="button" href=format!("/jobs/{first}")>"See the job"</a>
                            <a class="button" href="/queue">"See the queue"</a>
                        </div>
                    }.into_any()
                }
                None => view! {
                    <div class="confirm-row">
                        <button type="button" class="primary" data-testid="confirm-print"
                            disabled=move || current().is_none() || send.pending().get()
                            on:click=move |_| if let Some(o) = order() { send_error.set(None); send.dispatch(o); }>
                            {move || if send.pending().get() { "Sending…" } else { "Confirm and print" }}
                        </button>
                        <button type="button" on:click=move |_| on_close()>"Close"</button>
                    </div>
                }.into_any(),
            }}
            {move || send_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}
