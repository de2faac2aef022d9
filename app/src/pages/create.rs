//! Create: type what you want, watch it being made, see the result. The kiosk's home page.

use leptos::prelude::*;

use leptos_router::hooks::use_navigate;

use crate::api::{create_from_prompt, generation_progress, generator_status};
use crate::components::upload::ModelUpload;
use crate::wire::{CreateOutcome, DesignChoice, GenerationView};

/// Prompts a student can tap instead of typing.
const EXAMPLES: &[&str] = &[
    "a name tag for Maya",
    "a 10 cm twisted vase with 6 sides",
    "a gear with 20 teeth and a 5 mm hole",
    "a box with a lid",
    "a cookie cutter shaped like a star",
    "a door sign that says Lab 3",
];

/// Words on this page, together for translation.
mod text {
    pub const PICK_ONE: &str = "Here are a few versions. Pick the one you like best.";
    pub const EDIT_AND_PRINT: &str = "Edit and print →";
    pub const DOWNLOAD: &str = "Download";
    pub const UPLOAD_TITLE: &str = "Already have a model?";
    pub const BUILDING_MESH: &str = "Almost there: turning the shape into a printable model…";
    pub const COARSE_PREVIEW: &str = "A rough first look at the model while it is being made";
}

fn message(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        other => format!("Something went wrong: {other}. Please try again."),
    }
}

#[component]
pub fn CreatePage() -> impl IntoView {
    let status = Resource::new(|| (), |_| generator_status());
    let prompt = RwSignal::new(String::new());
    // One entry per variation being made (one unless the AI model makes several to pick from).
    let current = RwSignal::new(Vec::<GenerationView>::new());
    let choices = RwSignal::new(None::<(String, Vec<DesignChoice>)>);
    let error = RwSignal::new(None::<String>);

    let make = Action::new(|(prompt, template): &(String, Option<String>)| {
        create_from_prompt(prompt.clone(), template.clone())
    });
    Effect::new(move |_| {
        if let Some(result) = make.value().get() {
            match result {
                Ok(CreateOutcome::Started { generations }) => {
                    choices.set(None);
                    current.set(generations);
                }
                Ok(CreateOutcome::Choose { reason, choices: list }) => {
                    current.set(Vec::new());
                    choices.set(Some((reason, list)));
                }
                Err(e) => error.set(Some(message(e))),
            }
        }
    });
    // Follow the request until it is done (browser only: effects do not run on the server).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                for g in current.get_untracked().into_iter().filter(|g| !g.is_final()) {
                    leptos::task::spawn_local(async move {
                        match generation_progress(g.id).await {
                            Ok(next) => current.update(|list| {
                                if let Some(slot) = list.iter_mut().find(|c| c.id == next.id) {
                                    *slot = next;
                                }
                            }),
                            Err(e) => error.set(Some(message(e))),
                        }
                    });
                }
            },
            std::time::Duration::from_millis(400),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });

    let submit = move |template: Option<String>| {
        error.set(None);
        let text = prompt.get_untracked();
        if text.trim().is_empty() {
            error.set(Some("Type what you would like to print first.".into()));
            return;
        }
        make.dispatch((text, template));
    };

    view! {
        // `data-kiosk-dirty` tells a kiosk this screen holds someone's work (see `kiosk::watch_inactivity`).
        <section
            class="page create"
            data-kiosk-dirty=move || {
                (!prompt.with(|p| p.trim().is_empty()) || !current.with(Vec::is_empty)).then_some("true")
            }
        >
            <h1>"Create"</h1>
            <Suspense fallback=|| ()>
                {move || {
                    status.get().and_then(Result::ok).map(|s| {
                        view! {
                            <p class="ai-status" class:available=s.ai_available data-testid="ai-status">
                                {s.message}
                            </p>
                        }
                    })
                }}
            </Suspense>
            <form
                class="prompt-form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    submit(None);
                }
            >
                <label for="prompt">"What would you like to print?"</label>
                <div class="prompt-row">
                    <input
                        id="prompt"
                        data-testid="prompt"
                        type="text"
                        maxlength="300"
                        autocomplete="off"
                        enterkeyhint="go"
                        inputmode="text"
                        placeholder="a name tag for Maya"
                        prop:value=move || prompt.get()
                        on:input=move |ev| prompt.set(event_target_value(&ev))
                    />
                    <button type="submit" class="primary" data-testid="make" disabled=move || make.pending().get()>
                        "Make it"
                    </button>
                </div>
            </form>
            <div class="chips" role="list" aria-label="Ideas">
                {EXAMPLES
                    .iter()
                    .map(|example| {
                        view! {
                            <button class="chip" type="button" role="listitem" on:click=move |_| prompt.set(example.to_string())>
                                {*example}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="create-error">{e}</p> })}
            {move || {
                choices
                    .get()
                    .map(|(reason, list)| {
                        view! {
                            <div class="choices" data-testid="choices">
                                <p>{reason}</p>
                                <ul>
                                    {list
                                        .into_iter()
                                        .map(|c| {
                                            let template = c.template.clone();
                                            view! {
                                                <li>
                                                    <button type="button" class="choice" on:click=move |_| submit(Some(template.clone()))>
                                                        <strong>{c.name}</strong>
                                                        <span>{c.description}</span>
                                                    </button>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            </div>
                        }
                    })
            }}
            {move || {
                let list = current.get();
                let several = list.len() > 1;
                (!list.is_empty()).then(|| view! {
                    <div class="generations" class:several=several data-testid="generations">
                        {several.then(|| view! { <p class="pick-one">{text::PICK_ONE}</p> })}
                        {list.into_iter().map(|g| view! { <GenerationCard g/> }).collect_view()}
                    </div>
                })
            }}
            <div class="or-upload">
                <h2>{text::UPLOAD_TITLE}</h2>
                <ModelUpload on_done=move |version: i64| {
                    use_navigate()(&format!("/editor/{version}"), Default::default());
                }/>
            </div>
        </section>
    }
}

#[component]
fn GenerationCard(g: GenerationView) -> impl IntoView {
    let percent = (g.step * 100).checked_div(g.total).unwrap_or(0).min(100);
    let what = match g.state.as_str() {
        "queued" => "Waiting for its turn…".to_string(),
        "running" if g.tier == "shap-e" && g.stage == "building the mesh" => text::BUILDING_MESH.to_string(),
        "running" if g.tier == "shap-e" => format!("Shaping it: step {} of {}", g.step, g.total),
        "running" => "Building it…".to_string(),
        "done" => "Ready!".to_string(),
        "cancelled" => "Cancelled.".to_string(),
        _ => g.error.clone().unwrap_or_else(|| "It could not be made. Please try again.".into()),
    };
    view! {
        <div class="generation" data-testid="generation" data-state=g.state.clone()>
            <p class="what">{what}</p>
            {(!g.is_final()).then(|| {
                view! {
                    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent>
                        <div class="bar" style=format!("width: {percent}%")></div>
                    </div>
                }
            })}
            // The AI model's rough look at its result so far; each new one replaces the last.
            {(g.state == "running" && g.preview > 0).then(|| {
                view! {
                    <img
                        class="coarse-preview"
                        data-testid="coarse-preview"
                        src=format!("/api/v1/generations/{}/preview.png?n={}", g.id, g.preview)
                        alt=text::COARSE_PREVIEW
                        width="256"
                        height="256"
                    />
                }
            })}
            {g.model_version_id.map(|v| {
                view! {
                    <img
                        class="result"
                        data-testid="result-thumbnail"
                        src=format!("/api/v1/models/versions/{v}/thumbnail.png")
                        alt="The finished model"
                        width="256"
                        height="256"
                    />
                    <ul class="notes">{g.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view()}</ul>
                    <div class="result-actions">
                        <a class="button primary" data-testid="open-editor" href=format!("/editor/{v}")>{text::EDIT_AND_PRINT}</a>
                        <a class="button" href=format!("/api/v1/models/versions/{v}/file") download="">{text::DOWNLOAD}</a>
                    </div>
                }
            })}
        </div>
    }
}
