use leptos::prelude::*;

use crate::api::ConfirmBedClear;
use crate::components::sparkline::TempSparkline;
use crate::wire::{format_duration, PrinterStateView, PrinterView, TempView};

fn temp(t: TempView) -> String {
    if t.target > 0.0 {
        format!("{:.0} / {:.0} °C", t.actual, t.target)
    } else {
        format!("{:.0} °C", t.actual)
    }
}

/// One printer at a glance: state, temperatures, job and progress.
#[component]
pub fn PrinterCard(printer: PrinterView) -> impl IntoView {
    let state = printer.state;
    let pct = printer.progress.map(|p| (p * 100.0).round() as u32);
    // Only a printer that has finished (not one that is busy or halted) waits for a person's "clear".
    let awaiting_clear = !printer.bed_clear && state == PrinterStateView::Idle;
    let clear = ServerAction::<ConfirmBedClear>::new();
    let id = printer.id;
    let layers = match (printer.current_layer, printer.total_layers) {
        (Some(c), Some(t)) => Some(format!("layer {c} of {t}")),
        _ => None,
    };
    view! {
        <article
            class=format!("printer-card state-{}", state.key())
            data-testid="printer-card"
            data-printer-id=printer.id
            data-state=state.key()
        >
            <header>
                <h2><a href=format!("/printers/{id}")>{printer.name.clone()}</a></h2>
                <span class="badge" data-testid="printer-state">{state.label()}</span>
            </header>
            <div class="temps-row">
                <dl class="temps">
                    <div class="hotend"><dt>"Nozzle"</dt><dd>{temp(printer.hotend)}</dd></div>
                    <div class="bed"><dt>"Bed"</dt><dd>{temp(printer.bed)}</dd></div>
                </dl>
                <TempSparkline printer=id/>
            </div>
            // The farm's name for the job when it is one of ours; the printer's file name otherwise.
            {printer.job_name.clone().or(printer.file.clone()).map(|f| {
                let title = printer.file.clone().unwrap_or_else(|| f.clone());
                let job = printer.job_id;
                view! {
                    <div class="job">
                        {job.map(|j| view! {
                            <img
                                class="thumb"
                                data-testid="job-thumbnail"
                                src=format!("/api/v1/jobs/{j}/thumbnail.png")
                                alt=""
                                width="56"
                                height="56"
                                loading="lazy"
                            />
                        })}
                        {match job {
                            Some(j) => view! { <a class="file" title=title href=format!("/jobs/{j}")>{f}</a> }.into_any(),
                            None => view! { <p class="file" title=title>{f}</p> }.into_any(),
                        }}
                    </div>
                }
            })}
            {pct.map(|p| {
                view! {
                    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=p>
                        <div class="bar" style=format!("width: {p}%")></div>
                    </div>
                    <p class="progress-text">
                        {format!("{p}%")}
                        {layers.map(|l| format!(" · {l}"))}
                        {printer.remaining_s.filter(|s| *s > 0).map(|s| format!(" · {} left", format_duration(s)))}
                    </p>
                }
            })}
            {printer.message.clone().map(|m| view! { <p class="message">{m}</p> })}
            {printer.needs().map(|n| view! { <p class="needs" data-testid="printer-needs">{n}</p> })}
            {printer.material.clone().map(|m| view! { <p class="material">{m}</p> })}
            {awaiting_clear.then(|| view! {
                <button
                    class="action"
                    data-testid="bed-cleared"
                    disabled=move || clear.pending().get()
                    on:click=move |_| {
                        clear.dispatch(ConfirmBedClear { printer: id });
                    }
                >
                    "Bed cleared"
                </button>
                {move || clear.value().get().and_then(Result::err).map(|e| view! {
                    <p class="error" role="alert">{format!("That did not work: {e}. Try again.")}</p>
                })}
            })}
            <footer class="meta">{printer.driver.clone()} {printer.tags.iter().map(|t| format!(" · {t}")).collect::<String>()}</footer>
        </article>
    }
}
