//! Editor: the model on a to-scale print bed; move, rotate, scale, lay flat, measure, cut, arrange;
//! save as a new version; send to print.
//!
//! - [`scene`]: the parts, operations, undo history and validation report (pure, tested natively).
//! - [`camera`]: the orbit camera, picking rays and the gizmo's maths (pure, tested natively).
//! - `browser` (hydrate only): loading, input and drawing through [`crate::viewport`].
//! - [`print`]: the send-to-print panel.
//! - [`text`]: every sentence shown.

pub mod camera;
pub mod print;
pub mod scene;
pub mod text;

#[cfg(feature = "hydrate")]
mod browser;

use glam::Vec3;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::editor::{base64_encode, save_edited_model};
use scene::{Check, Keep, AXES};

/// The open editor (browser only; nothing on the server).
#[cfg(feature = "hydrate")]
type EditorHandle = browser::Shared;
#[cfg(not(feature = "hydrate"))]
type EditorHandle = ();

/// The tool the next tap on the model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    #[default]
    Select,
    LayFlat,
    Measure,
    Cut,
}

/// The selected part as the side panel shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    pub id: u32,
    pub name: String,
    /// Footprint centre x, y and lowest z, mm.
    pub position: [f32; 3],
    /// Degrees about x, y, z.
    pub rotation: [f32; 3],
    /// Bounding box, mm.
    pub size: [f32; 3],
}

/// What the panel shows, published by the editor after every change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ui {
    pub ready: bool,
    pub error: Option<String>,
    pub notice: Option<String>,
    /// Id, name, triangles.
    pub parts: Vec<(u32, String, usize)>,
    pub selected: Option<Selection>,
    pub can_undo: bool,
    pub can_redo: bool,
    pub report: Vec<Check>,
    pub tool: Tool,
    pub triangles: usize,
    /// Edited since the last save.
    pub dirty: bool,
    pub bed: [f32; 3],
    pub cut_z: Option<f32>,
}

/// What the panel and keys ask the editor to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetPosition(usize, f32),
    SetRotation(usize, f32),
    SetSize(usize, f32, bool),
    Nudge(Vec3),
    Turn(f32),
    PlaceOnBed,
    Centre,
    ScaleToFit,
    AddCopy,
    AddVersion(i64),
    Remove,
    Arrange,
    Select(Option<u32>),
    Tool(Tool),
    CutHeight(f32),
    Cut(Keep),
    Undo,
    Redo,
    SetBed([f32; 3]),
    Escape,
}

fn message(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        other => other.to_string(),
    }
}

#[component]
pub fn EditorPage() -> impl IntoView {
    let params = use_params_map();
    let first = params.with_untracked(|p| p.get("model").and_then(|v| v.parse::<i64>().ok()));
    let version = RwSignal::new(first);
    let ui = RwSignal::new(Ui { bed: scene::DEFAULT_BED, ..Ui::default() });
    let lock = RwSignal::new(true);
    let print_open = RwSignal::new(false);
    let saving = RwSignal::new(false);
    let save_error = RwSignal::new(None::<String>);
    // The WebGL editor is a browser-only, thread-bound value. On the server nothing is ever put here,
    // and a thread-bound (`new_local`) store must not be made there: the render's owner is dropped by
    // whichever worker thread finishes the response, and dropping a thread-bound value on another thread
    // panics ("Dropped SendWrapper<T> variable from a thread different…"), cutting the page short.
    #[cfg(feature = "hydrate")]
    let handle = StoredValue::new_local(None::<EditorHandle>);
    #[cfg(not(feature = "hydrate"))]
    let handle = StoredValue::new(None::<EditorHandle>);
    let canvas = NodeRef::<leptos::html::Canvas>::new();

    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let (Some(el), Some(v)) = (canvas.get(), version.get_untracked()) {
            if handle.with_value(Option::is_none) {
                handle.set_value(Some(browser::start(el, v, ui)));
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (canvas, handle);
    });

    let run = move |c: Command| {
        #[cfg(feature = "hydrate")]
        handle.with_value(|h| {
            if let Some(h) = h {
                browser::apply(h, c);
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = c;
    };

    // Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y) anywhere on the page except while typing in a field.
    #[cfg(feature = "hydrate")]
    {
        let keys = window_event_listener(leptos::ev::keydown, move |ev| {
            use wasm_bindgen::JsCast;
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing || !(ev.ctrl_key() || ev.meta_key()) {
                return;
            }
            match ev.key().to_ascii_lowercase().as_str() {
                "z" if ev.shift_key() => run(Command::Redo),
                "z" => run(Command::Undo),
                "y" => run(Command::Redo),
                _ => return,
            }
            ev.prevent_default();
        });
        on_cleanup(move || keys.remove());
    }

    // Saves the plate as a new version; resolves to the new version id.
    let save = move || async move {
        save_error.set(None);
        let v = version.get_untracked()?;
        #[cfg(feature = "hydrate")]
        let bytes = handle.with_value(|h| h.as_ref().map(browser::export));
        #[cfg(not(feature = "hydrate"))]
        let bytes: Option<Result<Vec<u8>, String>> = None;
        let bytes = match bytes {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                save_error.set(Some(text::save_failed(&e)));
                return None;
            }
            None => return None,
        };
        saving.set(true);
        let result = save_edited_model(v, base64_encode(&bytes)).await;
        saving.set(false);
        match result {
            Ok(saved) => {
                version.set(Some(saved.version_id));
                #[cfg(feature = "hydrate")]
                {
                    handle.with_value(|h| {
                        if let Some(h) = h {
                            browser::mark_saved(h);
                        }
                    });
                    browser::show_version_in_address_bar(saved.version_id);
                }
                Some(saved.version_id)
            }
            Err(e) => {
                save_error.set(Some(text::save_failed(&message(e))));
                None
            }
        }
    };
    let on_save = move |_| {
        leptos::task::spawn_local(async move {
            save().await;
        });
    };
    let on_print = move |_| {
        if ui.get_untracked().dirty {
            leptos::task::spawn_local(async move {
                if save().await.is_some() {
                    print_open.set(true);
                }
            });
        } else {
            print_open.set(true);
        }
    };

    // `?print=1` (the Library's "Print" button) opens the send-to-print panel once the model is in view.
    let asked_to_print = use_query_map().with_untracked(|q| q.get("print").is_some_and(|v| v == "1"));
    Effect::new(move |opened: Option<bool>| {
        if opened == Some(true) {
            return true;
        }
        let ready = ui.with(|u| u.ready && !u.parts.is_empty());
        if asked_to_print && ready {
            print_open.set(true);
        }
        asked_to_print && ready
    });

    let selected = move || ui.with(|u| u.selected.clone());
    let has_selection = move || ui.with(|u| u.selected.is_some());
    let tool_button = move |tool: Tool, label: &'static str, testid: &'static str| {
        view! {
            <button
                type="button"
                data-testid=testid
                class:active=move || ui.with(|u| u.tool == tool)
                aria-pressed=move || ui.with(|u| (u.tool == tool).to_string())
                on:click=move |_| run(Command::Tool(tool))
            >
                {label}
            </button>
        }
    };
    let field = move |group: &'static str,
                      axis: usize,
                      read: fn(&Selection) -> [f32; 3],
                      apply: fn(usize, f32, bool) -> Command| {
        let id = format!("{group}-{}", AXES[axis].to_ascii_lowercase());
        view! {
            <label class="num">
                <span>{AXES[axis]}</span>
                <input
                    id=id.clone()
                    data-testid=id
                    type="number"
                    step="0.1"
                    inputmode="decimal"
                    prop:value=move || selected().map(|s| format!("{:.1}", read(&s)[axis])).unwrap_or_default()
                    disabled=move || !has_selection()
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).trim().replace(',', ".").parse::<f32>() {
                            run(apply(axis, v, lock.get_untracked()));
                        }
                    }
                />
            </label>
        }
    };

    // Built in pieces with their types erased: one nested view type for the whole page is deeper
    // than the compiler's layout limit on the server.
    let viewport = view! {
        <div class="editor-view">
            <canvas
                node_ref=canvas
                class="editor-canvas"
                data-testid="editor-canvas"
                tabindex="0"
                aria-label="3D view of the print bed. Arrow keys move the selected part, R turns it, plus and minus zoom."
                on:pointerdown=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::pointer_down(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:pointermove=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::pointer_move(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:pointerup=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::pointer_up(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:pointercancel=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::pointer_up(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:wheel=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::wheel(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:keydown=move |ev| {
                    #[cfg(feature = "hydrate")]
                    handle.with_value(|h| if let Some(h) = h { browser::key(h, &ev) });
                    #[cfg(not(feature = "hydrate"))]
                    let _ = ev;
                }
                on:contextmenu=move |ev| ev.prevent_default()
            ></canvas>
            <div class="editor-toolbar" role="toolbar" aria-label="Undo and view">
                <button type="button" data-testid="undo" disabled=move || !ui.with(|u| u.can_undo) on:click=move |_| run(Command::Undo)>
                    "↶ Undo"
                </button>
                <button type="button" data-testid="redo" disabled=move || !ui.with(|u| u.can_redo) on:click=move |_| run(Command::Redo)>
                    "↷ Redo"
                </button>
            </div>
            {move || ui.with(|u| u.notice.clone()).map(|n| view! { <p class="editor-notice" role="status" data-testid="editor-notice">{n}</p> })}
            {move || ui.with(|u| u.error.clone()).map(|e| view! { <p class="error editor-error" role="alert" data-testid="editor-error">{e}</p> })}
            {move || (!ui.with(|u| u.ready) && ui.with(|u| u.error.is_none())).then(|| view! { <p class="editor-loading">{text::LOADING}</p> })}
        </div>
    }
    .into_any();
    let fields = view! {
            <fieldset class="fields" disabled=move || !has_selection()>
                <legend>"Position (mm)"</legend>
                {(0..3).map(|a| field("pos", a, |s| s.position, |a, v, _| Command::SetPosition(a, v))).collect_view()}
            </fieldset>
            <fieldset class="fields" disabled=move || !has_selection()>
                <legend>"Rotation (°)"</legend>
                {(0..3).map(|a| field("rot", a, |s| s.rotation, |a, v, _| Command::SetRotation(a, v))).collect_view()}
            </fieldset>
            <fieldset class="fields" disabled=move || !has_selection()>
                <legend>"Size (mm)"</legend>
                {(0..3).map(|a| field("size", a, |s| s.size, Command::SetSize)).collect_view()}
                <label class="lock">
                    <input type="checkbox" data-testid="lock" prop:checked=move || lock.get() on:change=move |ev| lock.set(event_target_checked(&ev))/>
                    "Keep proportions"
                </label>
            </fieldset>
    }
    .into_any();
    let actions = view! {
            <div class="actions" role="group" aria-label="Arrange">
                <button type="button" data-testid="place-on-bed" disabled=move || !has_selection() on:click=move |_| run(Command::PlaceOnBed)>"Place on bed"</button>
                <button type="button" data-testid="centre" disabled=move || !has_selection() on:click=move |_| run(Command::Centre)>"Centre"</button>
                <button type="button" data-testid="scale-to-fit" disabled=move || !has_selection() on:click=move |_| run(Command::ScaleToFit)>"Scale to fit"</button>
                {tool_button(Tool::LayFlat, "Lay flat on a face", "lay-flat")}
                {tool_button(Tool::Measure, "Measure", "measure")}
                {tool_button(Tool::Cut, "Cut", "cut")}
                <button type="button" data-testid="add-copy" disabled=move || !has_selection() on:click=move |_| run(Command::AddCopy)>"Add a copy"</button>
                <button type="button" data-testid="arrange" on:click=move |_| run(Command::Arrange)>"Arrange all"</button>
                <button type="button" data-testid="remove" disabled=move || !has_selection() on:click=move |_| run(Command::Remove)>"Remove part"</button>
            </div>
            {move || {
                ui.with(|u| u.cut_z).map(|z| {
                    let top = ui.with(|u| u.selected.as_ref().map_or(0.0, |s| s.position[2] + s.size[2]));
                    view! {
                        <div class="cut" data-testid="cut-panel">
                            <label>
                                "Cut height (mm) "
                                <input
                                    type="number"
                                    data-testid="cut-z"
                                    step="0.5"
                                    min="0"
                                    max=format!("{top:.1}")
                                    prop:value=format!("{z:.1}")
                                    on:change=move |ev| {
                                        if let Ok(v) = event_target_value(&ev).trim().parse::<f32>() {
                                            run(Command::CutHeight(v));
                                        }
                                    }
                                />
                            </label>
                            <button type="button" data-testid="cut-both" on:click=move |_| run(Command::Cut(Keep::Both))>"Cut, keep both"</button>
                            <button type="button" on:click=move |_| run(Command::Cut(Keep::Below))>"Keep bottom"</button>
                            <button type="button" on:click=move |_| run(Command::Cut(Keep::Above))>"Keep top"</button>
                        </div>
                    }
                })
            }}
    }
    .into_any();
    let rest = view! {
            <AddModel run/>
            <section class="report" aria-label="Check" data-testid="report">
                <h2>"Check"</h2>
                <ul>
                    {move || {
                        ui.with(|u| u.report.clone())
                            .into_iter()
                            .map(|c| view! { <li class:ok=c.ok class:bad=!c.ok>{if c.ok { "✓ " } else { "✗ " }}{c.text}</li> })
                            .collect_view()
                    }}
                </ul>
                <p class="muted">{move || format!("{} triangles", ui.with(|u| u.triangles))}</p>
            </section>
            <div class="save-row">
                <button type="button" data-testid="save" disabled=move || !ui.with(|u| u.dirty) || saving.get() on:click=on_save>
                    {move || if saving.get() { text::SAVING } else { "Save as new version" }}
                </button>
                <button type="button" class="primary" data-testid="send-to-print" disabled=move || !ui.with(|u| u.ready && !u.parts.is_empty()) on:click=on_print>
                    "Send to print…"
                </button>
            </div>
            {move || save_error.get().map(|e| view! { <p class="error" role="alert" data-testid="save-error">{e}</p> })}
            {move || {
                print_open.get().then(|| {
                    view! {
                        <print::PrintPanel
                            version=version
                            on_bed=move |bed| run(Command::SetBed(bed))
                            on_close=move || print_open.set(false)
                        />
                    }
                })
            }}
    }
    .into_any();

    view! {
        <section
            class="page editor"
            data-testid="editor"
            data-ready=move || ui.with(|u| u.ready.to_string())
            data-version=move || version.get().map(|v| v.to_string()).unwrap_or_default()
        >
            {viewport}
            <aside class="editor-panel" aria-label="Model settings">
                <h1>{text::TITLE}</h1>
                <p class="muted help">{text::HELP}</p>
                <div class="parts" role="list" aria-label="Parts on the plate">
                    {move || {
                        ui.with(|u| u.parts.clone())
                            .into_iter()
                            .map(|(id, name, tris)| {
                                view! {
                                    <button
                                        type="button"
                                        role="listitem"
                                        class="part"
                                        data-testid="part"
                                        class:active=move || ui.with(|u| u.selected.as_ref().is_some_and(|s| s.id == id))
                                        on:click=move |_| run(Command::Select(Some(id)))
                                        title=format!("{tris} triangles")
                                    >
                                        {name}
                                    </button>
                                }
                            })
                            .collect_view()
                    }}
                </div>
                {fields}
                {actions}
                {rest}
            </aside>
        </section>
    }
}

/// "Add another model" by its number in the library.
#[component]
fn AddModel(run: impl Fn(Command) + Copy + Send + Sync + 'static) -> impl IntoView {
    let number = RwSignal::new(String::new());
    view! {
        <form
            class="add-model"
            on:submit=move |ev| {
                ev.prevent_default();
                if let Ok(v) = number.get_untracked().trim().parse::<i64>() {
                    run(Command::AddVersion(v));
                    number.set(String::new());
                }
            }
        >
            <label for="add-version">"Add another model (its number)"</label>
            <input id="add-version" type="number" min="1" inputmode="numeric" prop:value=move || number.get() on:input=move |ev| number.set(event_target_value(&ev))/>
            <button type="submit">"Add"</button>
        </form>
    }
}
