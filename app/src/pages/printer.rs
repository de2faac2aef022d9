//! Printer detail: live state and job, a live temperature plot, manual controls for managers, the
//! printer's own error text, maintenance and the loaded spool.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::farm_snapshot;
use crate::api::printers::{
    add_maintenance, list_spools, load_spool, maintenance_done, printer_command, printer_info, MaintenanceView,
    PrinterDetail, SpoolView,
};
use crate::live::{LiveFarm, TempHistory, TempSample};
use crate::pages::printers::{bed_size, positive, say, trim_number};
use crate::wire::{format_duration, PrinterStateView, PrinterView, TempView};

/// The page's words, kept together for translation.
mod text {
    pub const LOADING: &str = "Loading the printer…";
    pub const NOT_FOUND: &str = "There is no such printer. Go back to the Printers page and pick one.";
    pub const TEMPS: &str = "Temperatures";
    pub const PLOT_EMPTY: &str = "Waiting for the first temperature readings…";
    pub const CONTROLS: &str = "Manual controls";
    pub const CONTROLS_NOTE: &str = "For farm managers. The printer must be idle to heat, home or move.";
    pub const ESTOP: &str = "Emergency stop";
    pub const ESTOP_SURE: &str =
        "Stop the printer right now? It halts at once and must be switched off and on again before it prints.";
    pub const ESTOP_YES: &str = "Yes, stop now";
    pub const CANCEL: &str = "Cancel";
    pub const MAINTENANCE: &str = "Maintenance";
    pub const MAINT_NONE: &str = "No maintenance tasks yet. Add one below, like \"Lubricate rails every 200 hours\".";
    pub const SPOOL: &str = "Spool";
    pub const NO_SPOOL: &str = "No spool loaded.";
}

/// Where one heater's line goes on the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Series {
    HotendActual,
    HotendTarget,
    BedActual,
    BedTarget,
}

impl Series {
    fn pick(self, s: &TempSample) -> f32 {
        match self {
            Self::HotendActual => s.hotend.actual,
            Self::HotendTarget => s.hotend.target,
            Self::BedActual => s.bed.actual,
            Self::BedTarget => s.bed.target,
        }
    }
}

/// How often the page asks where the tool head is.
const POSITION_POLL_MS: u64 = 1500;

/// Plot size in SVG units.
const PLOT_W: f64 = 600.0;
const PLOT_H: f64 = 200.0;

/// The top of the plot's scale: 300 °C, or more when something runs hotter.
pub(crate) fn plot_ceiling(samples: &[TempSample]) -> f64 {
    let hottest = samples
        .iter()
        .flat_map(|s| [s.hotend.actual, s.hotend.target, s.bed.actual, s.bed.target])
        .fold(0.0f32, f32::max) as f64;
    if hottest <= 300.0 {
        300.0
    } else {
        (hottest / 50.0).ceil() * 50.0
    }
}

/// The shortest time the plot spans, so the first readings do not fill it edge to edge.
const MIN_SPAN_MS: f64 = 60_000.0;

/// How much time the plot spans: what has been seen, from a minute up to [`TempHistory::SPAN_MS`].
pub(crate) fn plot_span(samples: &[TempSample]) -> f64 {
    match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => (b.at_ms - a.at_ms).clamp(MIN_SPAN_MS, TempHistory::SPAN_MS),
        _ => MIN_SPAN_MS,
    }
}

/// The SVG `points` of one series: the newest reading at the right edge, [`plot_span`] across.
pub(crate) fn polyline(samples: &[TempSample], series: Series, ceiling: f64) -> String {
    let Some(end) = samples.last().map(|s| s.at_ms) else { return String::new() };
    let span = plot_span(samples);
    let start = end - span;
    samples
        .iter()
        .filter(|s| s.at_ms >= start)
        .map(|s| {
            let x = (s.at_ms - start) / span * PLOT_W;
            let y = PLOT_H - (series.pick(s) as f64 / ceiling).clamp(0.0, 1.0) * PLOT_H;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn temp(t: TempView) -> String {
    if t.target > 0.0 {
        format!("{:.0} °C → {:.0} °C", t.actual, t.target)
    } else {
        format!("{:.0} °C (off)", t.actual)
    }
}

#[component]
pub fn PrinterPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let reload = RwSignal::new(0u32);
    let detail = Resource::new(move || (id(), reload.get()), |(id, _)| printer_info(id));
    let initial = Resource::new(|| (), |_| farm_snapshot());
    let live = expect_context::<LiveFarm>();
    let view_of = Signal::derive(move || -> Option<PrinterView> {
        let id = id();
        let find = |l: &Vec<PrinterView>| l.iter().find(|p| p.id == id).cloned();
        match live.printers.with(|l| l.as_ref().map(find)) {
            Some(found) => found,
            None => initial.get().and_then(Result::ok).and_then(|l| find(&l)),
        }
    });
    view! {
        <section class="page pf-printer">
            <p><a href="/printers">"← All printers"</a></p>
            <Suspense fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || detail.get().map(|d| match d {
                    Ok(d) => view! { <Detail detail=d view_of reload/> }.into_any(),
                    Err(e) => {
                        let msg = say(e);
                        let msg = if msg.contains("does not exist") { text::NOT_FOUND.to_string() } else { msg };
                        view! { <h1>"Printer"</h1><p class="pf-error" role="alert">{msg}</p> }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
    .into_any()
}

#[component]
fn Detail(detail: PrinterDetail, view_of: Signal<Option<PrinterView>>, reload: RwSignal<u32>) -> impl IntoView {
    let id = detail.row.id;
    let state = move || view_of.get().map(|p| p.state).unwrap_or(PrinterStateView::Connecting);
    let row = detail.row.clone();
    // The event stream carries no position, so the page asks for it while it is open.
    let position = RwSignal::new(detail.position);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    if let Ok(d) = printer_info(id).await {
                        if position.get_untracked() != d.position {
                            position.set(d.position);
                        }
                    }
                });
            },
            std::time::Duration::from_millis(POSITION_POLL_MS),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });
    let position_text = move || {
        position
            .get()
            .map(|p| format!("X {:.1} · Y {:.1} · Z {:.1} mm", p[0], p[1], p[2]))
            .unwrap_or_else(|| "not reported yet".into())
    };
    let last_error = detail.last_error.clone();
    view! {
        <header class="pf-detail-head">
            <h1>{row.name.clone()}</h1>
            <span class=move || format!("pf-badge state-{}", state().key()) data-testid="printer-state">{move || state().label()}</span>
        </header>
        <p class="muted">
            {format!("{} · {} · nozzle {} mm · {} · {}", bed_size(row.build_mm), row.firmware, trim_number(row.nozzle_mm), row.driver, row.address)}
            {detail.firmware_name.clone().map(|f| format!(" · {f}"))}
        </p>
        <div class="pf-detail-grid">
            <section class="pf-panel">
                <h2>"Now"</h2>
                <dl class="pf-facts">
                    <div><dt>"Nozzle"</dt><dd data-testid="hotend">{move || view_of.get().map(|p| temp(p.hotend))}</dd></div>
                    <div><dt>"Bed"</dt><dd data-testid="bed">{move || view_of.get().map(|p| temp(p.bed))}</dd></div>
                    <div><dt>"Position"</dt><dd data-testid="position">{position_text}</dd></div>
                </dl>
                {move || view_of.get().and_then(|p| {
                    let name = p.job_name.clone().or(p.file.clone())?;
                    let pct = p.progress.map(|v| (v * 100.0).round() as u32).unwrap_or(0);
                    let left = p.remaining_s.filter(|s| *s > 0).map(|s| format!(" · {} left", format_duration(s)));
                    let title = match p.job_id {
                        Some(j) => view! { <a href=format!("/jobs/{j}")>{name}</a> }.into_any(),
                        None => view! { <span>{name}</span> }.into_any(),
                    };
                    Some(view! {
                        <div class="pf-job" data-testid="current-job">
                            <p>"Printing " {title}</p>
                            <div class="pf-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct>
                                <div style=format!("width: {pct}%")></div>
                            </div>
                            <p class="muted">{format!("{pct}%")}{left}</p>
                        </div>
                    })
                })}
                {move || {
                    let now = view_of.get().filter(|p| p.state == PrinterStateView::Error).and_then(|p| p.message);
                    let text = now.or(last_error.clone())?;
                    Some(view! {
                        <div class="pf-printer-error" role="alert">
                            <p>"The printer said:"</p>
                            <pre data-testid="printer-error">{text}</pre>
                            <p class="muted">"Read the words above, fix the printer, then press Resume or switch it off and on."</p>
                        </div>
                    })
                }}
            </section>
            <TempPlot id/>
            <Controls id state=Signal::derive(state)/>
            <Maintenance id tasks=detail.maintenance.clone() reload/>
            <Spool id view_of reload/>
        </div>
    }
    .into_any()
}

#[component]
fn TempPlot(id: i64) -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let samples = Memo::new(move |_| {
        live.temps.with(|t| t.get(&id).map(|h| h.samples.iter().copied().collect::<Vec<_>>()).unwrap_or_default())
    });
    let line = move |series: Series| {
        samples.with(|s| {
            let ceiling = plot_ceiling(s);
            polyline(s, series, ceiling)
        })
    };
    view! {
        <section class="pf-panel pf-plot-panel">
            <h2>{text::TEMPS}</h2>
            <svg class="pf-plot" data-testid="temp-plot" data-samples=move || samples.with(|s| s.len())
                viewBox=format!("0 0 {PLOT_W} {PLOT_H}") preserveAspectRatio="none" role="img"
                aria-label="Nozzle and bed temperature over the last 10 minutes">
                <line class="grid" x1="0" y1="100" x2="600" y2="100"/>
                <polyline class="hotend-target" points=move || line(Series::HotendTarget)/>
                <polyline class="bed-target" points=move || line(Series::BedTarget)/>
                <polyline class="hotend" data-testid="plot-hotend" points=move || line(Series::HotendActual)/>
                <polyline class="bed" points=move || line(Series::BedActual)/>
            </svg>
            <p class="pf-legend">
                <span class="hotend">"Nozzle"</span> <span class="hotend-target">"nozzle target"</span>
                <span class="bed">"Bed"</span> <span class="bed-target">"bed target"</span>
                {move || {
                    samples.with(|s| {
                        format!(" · last {} · 0 to {:.0} °C", format_duration((plot_span(s) / 1000.0) as u32), plot_ceiling(s))
                    })
                }}
            </p>
            {move || samples.with(|s| s.is_empty()).then(|| view! { <p class="muted">{text::PLOT_EMPTY}</p> })}
        </section>
    }
    .into_any()
}

#[component]
fn Controls(id: i64, state: Signal<PrinterStateView>) -> impl IntoView {
    let said = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let confirm_stop = RwSignal::new(false);
    let send = move |action: &'static str, axis: Option<&'static str>, mm: Option<f64>| {
        busy.set(true);
        said.set(None);
        leptos::task::spawn_local(async move {
            let r = printer_command(id, action.into(), axis.map(String::from), mm).await;
            busy.set(false);
            said.set(Some(r.map_err(say)));
        });
    };
    let button = move |label: &'static str, action: &'static str, testid: &'static str| {
        view! {
            <button class="pf-btn" data-testid=testid disabled=busy on:click=move |_| send(action, None, None)>{label}</button>
        }
    };
    let jog = move |axis: &'static str| {
        let step = move |mm: f64| {
            let label = format!("{axis} {}{}", if mm > 0.0 { "+" } else { "−" }, trim_number(mm.abs()));
            view! {
                <button class="pf-btn pf-jog" data-testid=format!("jog-{axis}{mm}") aria-label=format!("Move {axis} by {mm} mm")
                    disabled=busy on:click=move |_| send("jog", Some(axis), Some(mm))>{label}</button>
            }
        };
        view! { <div class="pf-jog-row">{step(-10.0)}{step(-1.0)}{step(1.0)}{step(10.0)}</div> }
    };
    let paused = move || state.get() == PrinterStateView::Paused;
    view! {
        <section class="pf-panel" data-testid="controls">
            <h2>{text::CONTROLS}</h2>
            <p class="muted">{text::CONTROLS_NOTE}</p>
            <div class="pf-actions">
                {button("Preheat PLA", "preheat_pla", "preheat-pla")}
                {button("Preheat PETG", "preheat_petg", "preheat-petg")}
                {button("Cool down", "cool", "cool")}
                {button("Home", "home", "home")}
            </div>
            {jog("X")}{jog("Y")}{jog("Z")}
            <div class="pf-actions">
                {move || if paused() { button("Resume", "resume", "resume") } else { button("Pause", "pause", "pause") }}
                {button("Cancel print", "cancel", "cancel-print")}
            </div>
            <div class="pf-actions">
                {move || if confirm_stop.get() {
                    view! {
                        <p class="pf-confirm" role="alert" data-testid="estop-confirm">{text::ESTOP_SURE}</p>
                        <button class="pf-btn pf-danger" data-testid="estop-yes" on:click=move |_| {
                            confirm_stop.set(false);
                            send("emergency_stop", None, None);
                        }>{text::ESTOP_YES}</button>
                        <button class="pf-btn" data-testid="estop-cancel" on:click=move |_| confirm_stop.set(false)>{text::CANCEL}</button>
                    }.into_any()
                } else {
                    view! {
                        <button class="pf-btn pf-danger pf-estop" data-testid="estop" on:click=move |_| confirm_stop.set(true)>{text::ESTOP}</button>
                    }.into_any()
                }}
            </div>
            {move || said.get().map(|r| match r {
                Ok(m) => view! { <p class="pf-ok" role="status" data-testid="command-result">{m}</p> }.into_any(),
                Err(e) => view! { <p class="pf-error" role="alert" data-testid="command-error">{e}</p> }.into_any(),
            })}
        </section>
    }
    .into_any()
}

#[component]
fn Maintenance(id: i64, tasks: Vec<MaintenanceView>, reload: RwSignal<u32>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let every = RwSignal::new("200".to_string());
    let done = move |task: i64| {
        leptos::task::spawn_local(async move {
            match maintenance_done(task).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let Some(hours) = positive(&every.get()) else {
            error.set(Some("Type how often, in print hours, like 200.".into()));
            return;
        };
        if name.get().trim().is_empty() {
            error.set(Some("Type what needs doing, like \"Lubricate rails\".".into()));
            return;
        }
        let n = name.get();
        leptos::task::spawn_local(async move {
            match add_maintenance(id, n, hours).await {
                Ok(()) => {
                    name.set(String::new());
                    reload.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let list = if tasks.is_empty() {
        view! { <p class="muted">{text::MAINT_NONE}</p> }.into_any()
    } else {
        view! {
            <ul class="pf-maint" data-testid="maintenance">
                {tasks.into_iter().map(|t| {
                    let task = t.id;
                    view! {
                        <li class:due=t.due>
                            <span><strong>{t.name}</strong>
                                {format!(" · every {} h · {:.1} h since last", trim_number(t.every_hours), t.hours_since)}
                                {t.done_at.map(|d| format!(" (done {})", d.get(..10).unwrap_or(&d)))}
                            </span>
                            {t.due.then(|| view! { <span class="pf-due">"Due now"</span> })}
                            <button class="pf-btn" data-testid="maintenance-done" on:click=move |_| done(task)>"Mark done"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };
    view! {
        <section class="pf-panel">
            <h2>{text::MAINTENANCE}</h2>
            {list}
            <form class="pf-form pf-inline" on:submit=add>
                <label>"Task"<input type="text" maxlength="80" data-testid="maintenance-name" prop:value=name on:input=move |e| name.set(event_target_value(&e))/></label>
                <label>"Every (print hours)"<input type="text" inputmode="decimal" prop:value=every on:input=move |e| every.set(event_target_value(&e))/></label>
                <button class="pf-btn" type="submit" data-testid="maintenance-add">"Add task"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
        </section>
    }
    .into_any()
}

#[component]
fn Spool(id: i64, view_of: Signal<Option<PrinterView>>, reload: RwSignal<u32>) -> impl IntoView {
    let spools = Resource::new(move || reload.get(), |_| list_spools());
    let chosen = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let put = move |spool: Option<i64>| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match load_spool(id, spool).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    view! {
        <section class="pf-panel">
            <h2>{text::SPOOL}</h2>
            <p data-testid="loaded-spool">{move || view_of.get().and_then(|p| p.material).unwrap_or_else(|| text::NO_SPOOL.into())}</p>
            <Suspense fallback=|| ()>
                {move || spools.get().map(|r| match r {
                    Ok(list) => {
                        let free: Vec<SpoolView> = list.into_iter().filter(|s| s.printer_id.is_none() || s.printer_id == Some(id)).collect();
                        if free.is_empty() {
                            return view! { <p class="muted">"No spools in stock. Add spools on the Settings page."</p> }.into_any();
                        }
                        view! {
                            <div class="pf-actions">
                                <label>"Change to"
                                    <select data-testid="spool-select" prop:value=chosen on:change=move |e| chosen.set(event_target_value(&e))>
                                        <option value="">"Pick a spool"</option>
                                        {free.into_iter().map(|s| view! { <option value=s.id.to_string()>{s.label()}</option> }).collect_view()}
                                    </select>
                                </label>
                                <button class="pf-btn pf-primary" data-testid="spool-load" on:click=move |_| {
                                    match chosen.get().parse::<i64>() {
                                        Ok(s) => put(Some(s)),
                                        Err(_) => error.set(Some("Pick a spool from the list first.".into())),
                                    }
                                }>"Load"</button>
                                <button class="pf-btn" on:click=move |_| put(None)>"Take off"</button>
                            </div>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Suspense>
            {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: f64, hotend: f32, target: f32) -> TempSample {
        TempSample {
            at_ms: at_s * 1000.0,
            hotend: TempView { actual: hotend, target },
            bed: TempView { actual: 20.0, target: 0.0 },
        }
    }

    #[test]
    fn the_newest_reading_is_at_the_right_edge() {
        let s = vec![sample(0.0, 20.0, 200.0), sample(300.0, 150.0, 200.0), sample(600.0, 300.0, 200.0)];
        assert_eq!(polyline(&s, Series::HotendActual, 300.0), "0.0,186.7 300.0,100.0 600.0,0.0");
        assert_eq!(polyline(&s, Series::HotendTarget, 300.0), "0.0,66.7 300.0,66.7 600.0,66.7");
        assert_eq!(polyline(&[], Series::BedActual, 300.0), "");
    }

    #[test]
    fn readings_older_than_the_span_drop_off_the_left() {
        let s = vec![sample(0.0, 20.0, 0.0), sample(700.0, 20.0, 0.0)];
        assert_eq!(polyline(&s, Series::BedActual, 300.0).split(' ').count(), 1);
    }

    #[test]
    fn the_plot_spans_a_minute_to_ten() {
        assert_eq!(plot_span(&[sample(0.0, 20.0, 0.0)]), 60_000.0);
        assert_eq!(plot_span(&[sample(0.0, 20.0, 0.0), sample(120.0, 20.0, 0.0)]), 120_000.0);
        assert_eq!(plot_span(&[sample(0.0, 20.0, 0.0), sample(900.0, 20.0, 0.0)]), 600_000.0);
        let s = vec![sample(0.0, 20.0, 0.0), sample(30.0, 20.0, 0.0)];
        assert_eq!(
            polyline(&s, Series::BedActual, 300.0),
            "300.0,186.7 600.0,186.7",
            "half a minute fills half the plot"
        );
    }

    #[test]
    fn the_scale_grows_for_hot_printers() {
        assert_eq!(plot_ceiling(&[sample(0.0, 250.0, 260.0)]), 300.0);
        assert_eq!(plot_ceiling(&[sample(0.0, 310.0, 0.0)]), 350.0);
    }
}
