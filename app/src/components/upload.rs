//! Upload a model file (STL, 3MF, OBJ, glTF/GLB) by file picker or drag and drop, with progress.
//!
//! The file goes to `POST /api/v1/models?name=…` as the raw body, which parses it safely on the server
//! and answers with the stored version; the browser only checks what it cheaply can first (kind, size).

use leptos::prelude::*;

/// The largest file the server takes (`server::library::MAX_MODEL_BYTES`).
pub const MAX_UPLOAD_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// File name endings the library can read.
pub const MODEL_EXTENSIONS: &[&str] = &["stl", "3mf", "obj", "gltf", "glb"];

/// Words for the upload, together for translation.
mod text {
    pub const PICK: &str = "Upload a file";
    pub const HINT: &str = "or drop an STL, 3MF, OBJ or glTF file here";
    pub const EMPTY: &str = "That file is empty. Pick the model file again.";
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub const OFFLINE: &str = "The file did not reach the printer farm. Check the network and try again.";
}

/// Whether a file looks like something the library reads; the sentence says what to do when not.
pub fn check_file(name: &str, size: f64) -> Result<(), String> {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    if !MODEL_EXTENSIONS.contains(&ext.as_str()) {
        return Err(format!(
            "\"{name}\" is not a 3D model file the farm can read. Pick an STL, 3MF, OBJ or glTF (.glb) file."
        ));
    }
    if size <= 0.0 {
        return Err(text::EMPTY.into());
    }
    if size > MAX_UPLOAD_BYTES {
        return Err(format!(
            "\"{name}\" is {:.0} MB; the farm takes files up to 256 MB. Make the model simpler or export it as 3MF.",
            size / 1024.0 / 1024.0
        ));
    }
    Ok(())
}

/// The new version's id from a successful answer, or a sentence from a failed one.
pub fn read_answer(status: u16, body: &str) -> Result<i64, String> {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        return json
            .get("version_id")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| "The farm stored the file but did not say where. Open the Library to find it.".into());
    }
    let why = json.get("error").and_then(serde_json::Value::as_str).unwrap_or("the farm could not read it");
    Err(match status {
        413 => "That file is too big for the farm (256 MB at most).".into(),
        _ => format!("That file could not be used: {why}. Try another file, or export it again from your 3D program."),
    })
}

/// A drop zone with a file picker. Calls `on_done` with the stored model version's id.
#[component]
pub fn ModelUpload(#[prop(into)] on_done: Callback<i64>) -> impl IntoView {
    let progress = RwSignal::new(None::<f64>);
    let error = RwSignal::new(None::<String>);
    let dragging = RwSignal::new(false);
    let input_ref = NodeRef::<leptos::html::Input>::new();

    #[cfg(feature = "hydrate")]
    let send = move |file: web_sys::File| {
        error.set(None);
        if let Err(e) = check_file(&file.name(), file.size()) {
            error.set(Some(e));
            return;
        }
        if let Err(e) = browser::post(file, progress, move |r| match r {
            Ok(id) => on_done.run(id),
            Err(e) => error.set(Some(e)),
        }) {
            progress.set(None);
            error.set(Some(e));
        }
    };
    #[cfg(not(feature = "hydrate"))]
    // Events never fire while rendering on the server; this only keeps `on_done` in use there.
    let send = move |_: ()| on_done.run(0);

    let on_change = move |_ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        if let Some(file) = input_ref.get().and_then(|i| i.files()).and_then(|f| f.get(0)) {
            send(file);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&send, input_ref);
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(file) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            send(file);
        }
    };

    view! {
        <div
            class="upload"
            class:dragging=move || dragging.get()
            data-testid="upload"
            on:dragover=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <label class="button upload-pick">
                {text::PICK}
                <input
                    type="file"
                    node_ref=input_ref
                    data-testid="upload-input"
                    accept=".stl,.3mf,.obj,.gltf,.glb"
                    on:change=on_change
                />
            </label>
            <span class="muted">{text::HINT}</span>
            {move || progress.get().map(|p| {
                let pct = (p * 100.0).round() as u32;
                view! {
                    <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct>
                        <div class="bar" style=format!("width: {pct}%")></div>
                    </div>
                    <span data-testid="upload-progress">{if pct < 100 { format!("Uploading… {pct}%") } else { "Checking the model…".into() }}</span>
                }
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert" data-testid="upload-error">{e}</p> })}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{File, ProgressEvent, XmlHttpRequest};

    /// Sends the file with progress (fetch cannot report upload progress; XMLHttpRequest can).
    pub fn post(
        file: File,
        progress: RwSignal<Option<f64>>,
        done: impl Fn(Result<i64, String>) + 'static,
    ) -> Result<(), String> {
        let xhr = XmlHttpRequest::new().map_err(|_| super::text::OFFLINE.to_string())?;
        let name = String::from(js_sys::encode_uri_component(&file.name()));
        xhr.open("POST", &format!("/api/v1/models?name={name}")).map_err(|_| super::text::OFFLINE.to_string())?;
        progress.set(Some(0.0));
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress.set(Some(e.loaded() / e.total()));
            }
        });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        let done = std::rc::Rc::new(done);
        let answer = {
            let xhr = xhr.clone();
            let done = done.clone();
            Closure::<dyn FnMut()>::new(move || {
                progress.set(None);
                let body = xhr.response_text().ok().flatten().unwrap_or_default();
                done(super::read_answer(xhr.status().unwrap_or(0), &body));
            })
        };
        let failed = Closure::<dyn FnMut()>::new(move || {
            progress.set(None);
            done(Err(super::text::OFFLINE.into()));
        });
        xhr.set_onload(Some(answer.as_ref().unchecked_ref()));
        xhr.set_onerror(Some(failed.as_ref().unchecked_ref()));
        xhr.send_with_opt_blob(Some(&file)).map_err(|_| super::text::OFFLINE.to_string())?;
        // One small set of handlers per upload, alive until the request ends.
        on_progress.forget();
        answer.forget();
        failed.forget();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_model_files_of_a_sane_size_pass() {
        assert!(check_file("gear.STL", 1000.0).is_ok());
        assert!(check_file("part.3mf", 1.0).is_ok());
        assert!(check_file("scene.glb", 1.0).is_ok());
        let e = check_file("photo.jpg", 1000.0).unwrap_err();
        assert!(e.contains("photo.jpg") && e.contains("STL"), "{e}");
        assert!(check_file("noext", 10.0).is_err());
        assert_eq!(check_file("a.stl", 0.0).unwrap_err(), text::EMPTY);
        assert!(check_file("huge.stl", 300.0 * 1024.0 * 1024.0).unwrap_err().contains("256 MB"));
    }

    #[test]
    fn answers_become_a_version_or_a_sentence() {
        assert_eq!(read_answer(201, r#"{"model_id":3,"version_id":9}"#), Ok(9));
        let e = read_answer(422, r#"{"error":"the STL file is cut short"}"#).unwrap_err();
        assert!(e.contains("the STL file is cut short"), "{e}");
        assert!(read_answer(413, "").unwrap_err().contains("too big"));
        assert!(read_answer(500, "<html>").unwrap_err().contains("could not read it"));
        assert!(read_answer(201, "{}").is_err());
    }
}
