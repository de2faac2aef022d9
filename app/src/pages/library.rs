//! Library: everyone's models with thumbnails and versions, search, open in the editor, print again,
//! and the class gallery that teachers curate.

use leptos::prelude::*;

use crate::api::printers::{library_models, set_gallery, LibraryModel};
use crate::pages::printers::{say, trim_number};

/// The page's words, kept together for translation.
mod text {
    pub const TITLE: &str = "Library";
    pub const SEARCH: &str = "Search by name";
    pub const ALL: &str = "All models";
    pub const GALLERY: &str = "Class gallery";
    pub const LOADING: &str = "Loading models…";
    pub const NONE: &str = "No models yet. Make one on the Create page, or upload a file there.";
    pub const NONE_FOUND: &str = "No model has that in its name. Try a shorter word.";
    pub const GALLERY_EMPTY: &str = "The gallery is empty. Teachers add models to it from All models.";
    pub const OPEN: &str = "Open in editor";
    pub const PRINT: &str = "Print";
    pub const ADD_GALLERY: &str = "Add to gallery";
    pub const REMOVE_GALLERY: &str = "Remove from gallery";
    pub const IN_GALLERY: &str = "In the gallery";
}

/// "12 × 30 × 4 mm", when known.
fn size(mm: Option<[f64; 3]>) -> Option<String> {
    mm.map(|m| {
        format!("{} × {} × {} mm", trim_number(m[0].round()), trim_number(m[1].round()), trim_number(m[2].round()))
    })
}

/// The date part of a stored time stamp.
fn day(stamp: &str) -> &str {
    stamp.get(..10).unwrap_or(stamp)
}

#[component]
pub fn LibraryPage() -> impl IntoView {
    let search = RwSignal::new(String::new());
    let gallery_only = RwSignal::new(false);
    let reload = RwSignal::new(0u32);
    let models =
        Resource::new(move || (search.get(), gallery_only.get(), reload.get()), |(s, g, _)| library_models(s, g));
    view! {
        <section class="page pf-library">
            <h1>{text::TITLE}</h1>
            <div class="pf-toolbar">
                <div class="chips" role="toolbar" aria-label="Which models">
                    <button class="chip" class:selected=move || !gallery_only.get() aria-pressed=move || (!gallery_only.get()).to_string()
                        data-testid="show-all" on:click=move |_| gallery_only.set(false)>{text::ALL}</button>
                    <button class="chip" class:selected=move || gallery_only.get() aria-pressed=move || gallery_only.get().to_string()
                        data-testid="show-gallery" on:click=move |_| gallery_only.set(true)>{text::GALLERY}</button>
                </div>
                <label class="pf-search">
                    <span class="visually-hidden">{text::SEARCH}</span>
                    <input type="search" placeholder=text::SEARCH data-testid="library-search" maxlength="100"
                        prop:value=search on:input=move |e| search.set(event_target_value(&e))/>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || models.get().map(|r| match r {
                    Ok(list) if list.is_empty() => {
                        let why = if gallery_only.get_untracked() {
                            text::GALLERY_EMPTY
                        } else if search.get_untracked().trim().is_empty() {
                            text::NONE
                        } else {
                            text::NONE_FOUND
                        };
                        view! { <p class="empty" data-testid="library-empty">{why}</p> }.into_any()
                    }
                    Ok(list) => view! {
                        <ul class="pf-models" data-testid="library">
                            {list.into_iter().map(|m| view! { <ModelCard model=m reload/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <p class="pf-error" role="alert">{say(e)}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn ModelCard(model: LibraryModel, reload: RwSignal<u32>) -> impl IntoView {
    let Some(latest) = model.versions.first().cloned() else {
        return ().into_any();
    };
    let shown = RwSignal::new(latest.id);
    let error = RwSignal::new(None::<String>);
    let id = model.id;
    let in_gallery = model.in_gallery;
    let toggle = move |_| {
        error.set(None);
        leptos::task::spawn_local(async move {
            match set_gallery(id, !in_gallery).await {
                Ok(()) => reload.update(|n| *n += 1),
                Err(e) => error.set(Some(say(e))),
            }
        });
    };
    let versions = model.versions.clone();
    let version_of = move |vid: i64| versions.iter().find(|v| v.id == vid).cloned();
    let meta = {
        let version_of = version_of.clone();
        move || {
            let v = version_of(shown.get())?;
            let mut parts = vec![format!("version {}", v.version), day(&v.created_at).to_string()];
            parts.extend(size(v.size_mm));
            parts.extend(v.triangles.map(|t| format!("{t} triangles")));
            Some(parts.join(" · "))
        }
    };
    let who = match &model.owner {
        Some(o) => format!("by {o} · {}", model.source),
        None => model.source.clone(),
    };
    view! {
        <li class="pf-model" data-testid="model" data-model-id=id data-in-gallery=in_gallery.to_string()>
            <img class="pf-thumb" data-testid="thumbnail" width="160" height="160" loading="lazy"
                alt=format!("Picture of {}", model.name)
                src=move || format!("/api/v1/models/versions/{}/thumbnail.png", shown.get())/>
            <div class="pf-model-body">
                <h2 data-testid="model-name">{model.name.clone()}</h2>
                <p class="muted">{who}</p>
                <p class="muted" data-testid="model-meta">{meta}</p>
                {(model.versions.len() > 1).then(|| view! {
                    <label>"Version "
                        <select data-testid="versions" prop:value=move || shown.get().to_string()
                            on:change=move |e| if let Ok(v) = event_target_value(&e).parse() { shown.set(v) }>
                            {model.versions.iter().map(|v| view! {
                                <option value=v.id.to_string()>{format!("{} ({})", v.version, day(&v.created_at))}</option>
                            }).collect_view()}
                        </select>
                    </label>
                })}
                <div class="pf-actions">
                    <a class="pf-btn pf-primary" data-testid="open-editor" href=move || format!("/editor/{}", shown.get())>{text::OPEN}</a>
                    <a class="pf-btn" data-testid="print-again" href=move || format!("/editor/{}?print=1", shown.get())>{text::PRINT}</a>
                    // Teachers curate the gallery (sign-in with roles comes with accounts).
                    <button class="pf-btn" data-testid="gallery-toggle" on:click=toggle>
                        {if in_gallery { text::REMOVE_GALLERY } else { text::ADD_GALLERY }}
                    </button>
                </div>
                {in_gallery.then(|| view! { <span class="pf-ok">{text::IN_GALLERY}</span> })}
                {move || error.get().map(|e| view! { <p class="pf-error" role="alert">{e}</p> })}
            </div>
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_days() {
        assert_eq!(size(Some([20.0, 20.4, 9.6])), Some("20 × 20 × 10 mm".into()));
        assert_eq!(size(None), None);
        assert_eq!(day("2026-11-29T10:00:00.000Z"), "2026-11-29");
        assert_eq!(day("x"), "x");
    }
}
