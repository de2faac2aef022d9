//! One job: its model, G-code layer preview, progress and history of transitions.

use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::queue::{
    b64_decode, decode_preview, error_text, job_preview, load_job, DecodedLayer, JobDetail, PreviewData,
};
use crate::live::LiveFarm;
use crate::pages::queue::{
    clock_words, material_words, settled_changes, span_words, state_label, when_words, JobButtons, Notice, NoticeBar,
};

/// What people read on the Job page. Kept together for translation.
mod text {
    pub const LOADING: &str = "Loading the job…";
    pub const BAD_ID: &str = "That is not a job number. Go back to the Queue and pick a job there.";
    pub const BACK: &str = "← Queue";
    pub const OWNER: &str = "Owner";
    pub const MATERIAL: &str = "Material";
    pub const PRINTER: &str = "Printer";
    pub const QUALITY: &str = "Quality";
    pub const NO_PRINTER: &str = "not chosen yet";
    pub const NOBODY: &str = "no owner";
    pub const PRINTER_SAID: &str = "The printer said:";
    pub const WHY_WAITING: &str = "Why it is waiting:";
    pub const NUMBERS: &str = "Estimated and actual";
    pub const TIME: &str = "Print time";
    pub const FILAMENT: &str = "Filament";
    pub const COST: &str = "Cost";
    pub const ATTEMPTS: &str = "Attempts";
    pub const ESTIMATE: &str = "estimated";
    pub const ACTUAL: &str = "actual";
    pub const UNKNOWN: &str = "not known yet";
    pub const HISTORY: &str = "History";
    pub const THE_FARM: &str = "the farm";
    pub const PREVIEW: &str = "Layer preview";
    pub const PREVIEW_LOADING: &str = "Loading the layers…";
    pub const LAYER_DOWN: &str = "One layer down";
    pub const LAYER_UP: &str = "One layer up";
    pub const LAYER: &str = "Layer";
}

/// The preview ready to draw: layers and the colour of each feature code.
#[derive(Debug, Clone, PartialEq)]
struct Layers {
    layers: Arc<Vec<DecodedLayer>>,
    colours: HashMap<u8, (String, [u8; 3])>,
}

fn decode(p: PreviewData) -> Result<Layers, String> {
    let bytes = b64_decode(&p.data)?;
    let layers = decode_preview(&bytes)?;
    let colours = p.roles.into_iter().map(|r| (r.code, (r.label, r.rgb))).collect();
    Ok(Layers { layers: Arc::new(layers), colours })
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let live = expect_context::<LiveFarm>();
    let changes = settled_changes(live);
    let detail = Resource::new(
        move || (id(), changes.get()),
        |(id, _)| async move {
            match id {
                Some(id) => load_job(id).await,
                None => Err(ServerFnError::new(text::BAD_ID)),
            }
        },
    );
    let notice = RwSignal::new(None::<Notice>);
    let refresh = Callback::new(move |_: Option<String>| detail.refetch());

    view! {
        <section class="page job">
            <a class="back" href="/queue">{text::BACK}</a>
            <NoticeBar notice/>
            <Transition fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || {
                    detail.get().map(|r| match r {
                        Ok(d) => view! { <JobView d notice refresh/> }.into_any(),
                        Err(e) => {
                            view! {
                                <h1>"Job"</h1>
                                <p class="notice error" role="alert" data-testid="job-error">{error_text(e)}</p>
                            }
                                .into_any()
                        }
                    })
                }}
            </Transition>
            {move || id().map(|id| view! { <LayerPreview id detail/> })}
        </section>
    }
}

#[component]
fn JobView(d: JobDetail, notice: RwSignal<Option<Notice>>, refresh: Callback<Option<String>>) -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let job = d.job.clone();
    let (now, off) = (d.now_s, d.utc_offset_min);
    let id = job.id;
    // Progress straight from the live stream between refreshes.
    let progress = {
        let base = job.progress;
        let state = job.state.clone();
        Signal::derive(move || {
            live.jobs
                .with(|jobs| jobs.get(&id).filter(|j| j.state == state).and_then(|j| j.progress))
                .or(base)
                .map(|p| (p * 100.0).clamp(0.0, 100.0))
        })
    };
    let running = job.is_running();
    let printer_id = job.printer_id;
    let left = move || {
        let said = live.printers.with(|ps| {
            ps.as_ref()
                .and_then(|ps| ps.iter().find(|p| Some(p.id) == printer_id && p.job_id == Some(id)))
                .and_then(|p| p.remaining_s)
        });
        said.map(i64::from).or(d.remaining_s)
    };
    let times = if job.is_finished() {
        job.finish_s.map(|f| format!("Ended {}", clock_words(f, now, off)))
    } else if running {
        job.start_s.map(|s| format!("Started {}", clock_words(s, now, off)))
    } else {
        job.start_s.map(|s| {
            let finish = job.finish_s.map(|f| format!(", done {}", clock_words(f, now, off))).unwrap_or_default();
            format!("Starts {}{finish}", when_words(s, now, off))
        })
    };
    let failed_text = job.error.clone().filter(|_| job.state == "failed");
    let waiting_text = job.blocked.clone().or_else(|| job.error.clone().filter(|_| job.is_waiting()));
    let est_time = job.estimate_s.map(span_words).unwrap_or_else(|| text::UNKNOWN.into());
    let act_time = if job.print_s > 0.0 { span_words(job.print_s as i64) } else { "–".into() };
    let est_g = job.filament_g.map(|g| format!("{g:.1} g")).unwrap_or_else(|| text::UNKNOWN.into());
    let act_g = if job.filament_used_g > 0.0 { format!("{:.1} g", job.filament_used_g) } else { "–".into() };
    let history = d
        .history
        .iter()
        .map(|h| {
            let when = h.at_s.map(|t| clock_words(t, now, off)).unwrap_or_default();
            let who = h.who.clone().unwrap_or_else(|| text::THE_FARM.into());
            let change = match &h.from {
                Some(from) => format!("{} → {}", state_label(from), state_label(&h.to)),
                None => state_label(&h.to).to_string(),
            };
            view! {
                <li data-testid="history-row">
                    <span class="when">{when}</span>
                    <span class="change">{change}</span>
                    <span class="who">{who}</span>
                    <span class="why">{h.why.clone()}</span>
                </li>
            }
        })
        .collect_view();

    view! {
        <header class="job-head">
            {job.model_version_id.map(|v| view! {
                <img
                    class="model"
                    src=format!("/api/v1/models/versions/{v}/thumbnail.png")
                    alt=format!("Picture of {}", job.name)
                    width="160"
                    height="160"
                />
            })}
            <div>
                <h1 data-testid="job-name">{job.name.clone()}</h1>
                <p class=format!("badge state-{}", job.state) data-testid="job-state" data-state=job.state.clone()>
                    {state_label(&job.state)}
                </p>
                {running.then(|| {
                    view! {
                        <div class="job-progress">
                            <div
                                class="progress"
                                role="progressbar"
                                aria-valuemin="0"
                                aria-valuemax="100"
                                aria-valuenow=move || progress.get().map(|p| p.round() as u32).unwrap_or(0)
                                data-testid="job-progress"
                                data-progress=move || progress.get().map(|p| format!("{p:.1}")).unwrap_or_default()
                            >
                                <div class="bar" style=move || format!("width: {:.1}%", progress.get().unwrap_or(0.0))></div>
                            </div>
                            <span class="progress-text" data-testid="job-progress-text">
                                {move || progress.get().map(|p| format!("{p:.0}%")).unwrap_or_default()}
                                {move || left().map(|s| format!(" · about {} left", span_words(s)))}
                            </span>
                        </div>
                    }
                })}
                <p class="when" data-testid="job-times">{times}</p>
            </div>
        </header>
        {failed_text.map(|e| {
            view! {
                <div class="printer-error" role="alert">
                    <p>{text::PRINTER_SAID}</p>
                    <pre data-testid="printer-error">{e}</pre>
                </div>
            }
        })}
        {waiting_text.map(|e| view! { <p class="blocked"><strong>{text::WHY_WAITING}</strong> " " {e}</p> })}
        <JobButtons job=job.clone() notice refresh/>
        <dl class="facts">
            <dt>{text::OWNER}</dt>
            <dd>{job.owner.clone().unwrap_or_else(|| text::NOBODY.into())}</dd>
            <dt>{text::MATERIAL}</dt>
            <dd>{material_words(&job)}</dd>
            <dt>{text::QUALITY}</dt>
            <dd>{job.quality.clone()}</dd>
            <dt>{text::PRINTER}</dt>
            <dd data-testid="job-printer">{job.printer.clone().unwrap_or_else(|| text::NO_PRINTER.into())}</dd>
        </dl>
        <h2>{text::NUMBERS}</h2>
        <table class="numbers">
            <thead>
                <tr>
                    <th></th>
                    <th scope="col">{text::ESTIMATE}</th>
                    <th scope="col">{text::ACTUAL}</th>
                </tr>
            </thead>
            <tbody>
                <tr>
                    <th scope="row">{text::TIME}</th>
                    <td>{est_time}</td>
                    <td>{act_time}</td>
                </tr>
                <tr>
                    <th scope="row">{text::FILAMENT}</th>
                    <td>{est_g}</td>
                    <td>{act_g}</td>
                </tr>
                <tr>
                    <th scope="row">{text::COST}</th>
                    <td>"–"</td>
                    <td>{format!("{:.2}", job.cost)}</td>
                </tr>
                <tr>
                    <th scope="row">{text::ATTEMPTS}</th>
                    <td>{format!("at most {}", job.max_attempts)}</td>
                    <td>{job.attempts}</td>
                </tr>
            </tbody>
        </table>
        <h2>{text::HISTORY}</h2>
        <ol class="history" data-testid="history">{history}</ol>
    }
}

/// The G-code layer preview: a canvas and a layer slider, drawn in the browser from the compact data.
#[component]
fn LayerPreview(id: i64, detail: Resource<Result<JobDetail, ServerFnError>>) -> impl IntoView {
    // Fetched again when the job gets (new) G-code.
    let sliced =
        Memo::new(move |_| detail.get().and_then(Result::ok).map(|d| (d.job.sliced, d.job.estimate_s, d.job.attempts)));
    let data = LocalResource::new(move || {
        let _ = sliced.get();
        async move { job_preview(id).await }
    });
    let layers = Memo::new(move |_| data.get().map(|r| r.map_err(error_text).and_then(decode)));
    let layer = RwSignal::new(0usize);
    // Start at the top layer: the whole object's last layer.
    Effect::new(move |_| {
        if let Some(Ok(l)) = layers.get() {
            layer.set(l.layers.len().saturating_sub(1));
        }
    });
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    Effect::new(move |_| {
        let k = layer.get();
        let Some(Ok(l)) = layers.get() else { return };
        if let Some(c) = canvas.get() {
            draw(&c, &l, k);
        }
    });
    let count = move || layers.with(|l| l.as_ref().and_then(|l| l.as_ref().ok()).map_or(0, |l| l.layers.len()));
    let z = move || {
        layers.with(|l| l.as_ref().and_then(|l| l.as_ref().ok()).and_then(|l| l.layers.get(layer.get()).map(|x| x.z)))
    };
    let legend = move || {
        layers.with(|l| {
            let l = l.as_ref()?.as_ref().ok()?;
            let mut used: Vec<u8> = l.layers.iter().flat_map(|x| x.paths.iter().map(|p| p.role)).collect();
            used.sort_unstable();
            used.dedup();
            let mut seen = Vec::new();
            let items = used
                .into_iter()
                .filter_map(|code| l.colours.get(&code).cloned())
                .filter(|(label, _)| {
                    let new = !seen.contains(label);
                    seen.push(label.clone());
                    new
                })
                .map(|(label, [r, g, b])| {
                    view! {
                        <li>
                            <span class="swatch" style=format!("background: rgb({r}, {g}, {b})")></span>
                            {label}
                        </li>
                    }
                })
                .collect_view();
            Some(view! { <ul class="legend">{items}</ul> })
        })
    };
    view! {
        <section class="layer-preview" data-testid="layer-preview">
            <h2>{text::PREVIEW}</h2>
            {move || match layers.get() {
                None => Some(view! { <p class="muted">{text::PREVIEW_LOADING}</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="muted" data-testid="preview-missing">{e}</p> }.into_any()),
                Some(Ok(_)) => None,
            }}
            <div class="preview-body" class:hidden=move || count() == 0>
                <canvas node_ref=canvas width="640" height="640" data-testid="layer-canvas" aria-label="The toolpaths of one layer, seen from above"></canvas>
                <div class="layer-controls">
                    <button
                        class="icon-button"
                        aria-label=text::LAYER_DOWN
                        data-testid="layer-down"
                        on:click=move |_| layer.update(|k| *k = k.saturating_sub(1))
                    >
                        "−"
                    </button>
                    <input
                        type="range"
                        min="1"
                        max=move || count().max(1).to_string()
                        prop:value=move || (layer.get() + 1).to_string()
                        aria-label=text::LAYER
                        data-testid="layer-slider"
                        on:input=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<usize>() {
                                layer.set(v.saturating_sub(1));
                            }
                        }
                    />
                    <button
                        class="icon-button"
                        aria-label=text::LAYER_UP
                        data-testid="layer-up"
                        on:click=move |_| layer.update(|k| *k = (*k + 1).min(count().saturating_sub(1)))
                    >
                        "+"
                    </button>
                    <span class="layer-label" data-testid="layer-label">
                        {move || format!("{} {} of {}", text::LAYER, layer.get() + 1, count())}
                        {move || z().map(|z| format!(" · {z:.2} mm"))}
                    </span>
                </div>
                {legend}
            </div>
        </section>
    }
}

/// Draws layer `k` from above: the layer below faintly, this one in its features' colours at bead width.
fn draw(canvas: &leptos::web_sys::HtmlCanvasElement, l: &Layers, k: usize) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Ok(Some(ctx)) = canvas.get_context("2d") else { return };
        let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else { return };
        let (w, h) = (canvas.width() as f64, canvas.height() as f64);
        ctx.set_fill_style_str("#18181c");
        ctx.fill_rect(0.0, 0.0, w, h);
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in l.layers.iter().flat_map(|x| x.paths.iter()).flat_map(|p| p.points.iter()) {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        if lo[0] > hi[0] {
            return;
        }
        let margin = 16.0;
        let span = f64::from((hi[0] - lo[0]).max(hi[1] - lo[1]).max(1.0));
        let scale = (w.min(h) - 2.0 * margin) / span;
        let (cx, cy) = (f64::from(lo[0] + hi[0]) / 2.0, f64::from(lo[1] + hi[1]) / 2.0);
        let at = |p: [f32; 2]| (w / 2.0 + (f64::from(p[0]) - cx) * scale, h / 2.0 - (f64::from(p[1]) - cy) * scale);
        ctx.set_line_cap("round");
        ctx.set_line_join("round");
        let stroke = |layer: &DecodedLayer, colour: &dyn Fn(u8) -> String| {
            for path in &layer.paths {
                let Some(first) = path.points.first() else { continue };
                ctx.set_stroke_style_str(&colour(path.role));
                ctx.set_line_width((f64::from(path.width) * scale).max(1.0));
                ctx.begin_path();
                let (x, y) = at(*first);
                ctx.move_to(x, y);
                for p in &path.points[1..] {
                    let (x, y) = at(*p);
                    ctx.line_to(x, y);
                }
                if path.closed {
                    ctx.close_path();
                }
                ctx.stroke();
            }
        };
        if let Some(below) = k.checked_sub(1).and_then(|b| l.layers.get(b)) {
            stroke(below, &|_| "rgba(255, 255, 255, 0.14)".to_string());
        }
        if let Some(layer) = l.layers.get(k) {
            stroke(layer, &|role| {
                let [r, g, b] = l.colours.get(&role).map(|c| c.1).unwrap_or([200, 200, 200]);
                format!("rgb({r}, {g}, {b})")
            });
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (canvas, l, k);
}
