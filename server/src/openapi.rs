//! The REST API described as an OpenAPI 3.1 document (`GET /api/v1/openapi.json`) and the interactive
//! docs page (`GET /api/docs`: Swagger UI from the site's `swagger-ui/`, copied there from npm's
//! `swagger-ui-dist` by the build, so the page works offline).
//!
//! The document is written by hand with `serde_json` rather than derived from the handlers: most
//! handlers answer `serde_json::Value`, so a derive would describe nothing. `server/tests/it/openapi.rs`
//! keeps it honest: every route in the source is documented (and every documented path routed), every
//! `$ref` resolves, and real responses of the main objects match their schemas field for field.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::http::AppState;

/// The two routes: the document and the page that shows it.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json)).route("/api/docs", get(docs_page))
}

/// Built once: the document never changes while the server runs.
static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&document()).expect("the document always serialises"));

async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

/// The docs page. Its script and style are files of their own (no inline script), so it also works under
/// a strict Content-Security-Policy, which it sets for itself.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Printfarm API</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/swagger-ui/printfarm-docs.js"></script>
</body>
</html>
"#;

/// Swagger UI sets element styles from script (allowed by `'self'` scripts) and draws icons as data: URLs.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async fn docs_page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, DOCS_CSP)], DOCS_PAGE)
        .into_response()
}

// ---- Building blocks ----------------------------------------------------------------------------------

/// The least role an operation needs. Roles nest: admin > manager > teacher > maker > kiosk.
#[derive(Clone, Copy)]
enum Needs {
    /// No sign-in at all.
    Anyone,
    Kiosk,
    Maker,
    Teacher,
    Manager,
    Admin,
}

impl Needs {
    fn word(self) -> &'static str {
        match self {
            Needs::Anyone => "anyone",
            Needs::Kiosk => "kiosk",
            Needs::Maker => "maker",
            Needs::Teacher => "teacher",
            Needs::Manager => "manager",
            Needs::Admin => "admin",
        }
    }
}

/// A reference to a schema in `components`.
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn list(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// `schema` or `null`.
fn nullable(schema: Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some(t) if schema.as_object().is_some_and(|o| o.len() == 1) => json!({ "type": [t, "null"] }),
        _ => json!({ "oneOf": [schema, { "type": "null" }] }),
    }
}

fn string() -> Value {
    json!({ "type": "string" })
}
fn integer() -> Value {
    json!({ "type": "integer" })
}
fn number() -> Value {
    json!({ "type": "number" })
}
fn boolean() -> Value {
    json!({ "type": "boolean" })
}
fn described(mut schema: Value, text: &str) -> Value {
    schema["description"] = text.into();
    schema
}

/// An object schema: `required` fields first (`name: schema`), then optional ones.
fn object(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (name, schema) in required.iter().chain(optional) {
        props.insert((*name).to_string(), schema.clone());
    }
    let names: Vec<&str> = required.iter().map(|(n, _)| *n).collect();
    json!({ "type": "object", "properties": props, "required": names, "additionalProperties": false })
}

/// One operation, collected into `paths`.
struct Op {
    method: &'static str,
    path: &'static str,
    needs: Needs,
    value: Value,
}

fn op(method: &'static str, path: &'static str, tag: &'static str, needs: Needs, summary: &str) -> Op {
    let mut params = Vec::new();
    for name in path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
        let schema = if name == "id" { json!({ "type": "integer", "format": "int64" }) } else { string() };
        params.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
    }
    let mut value = json!({
        "tags": [tag],
        "summary": summary,
        "operationId": format!("{}_{}", method, path.trim_start_matches('/').replace(['/', '-', '.'], "_").replace(['{', '}'], "")),
        "responses": {},
    });
    if !params.is_empty() {
        value["parameters"] = Value::Array(params);
    }
    if matches!(needs, Needs::Anyone) {
        value["security"] = json!([]);
    }
    Op { method, path, needs, value }
}

impl Op {
    /// More words for the description (before the "Needs:" line).
    fn about(mut self, text: &str) -> Self {
        self.value["description"] = text.into();
        self
    }

    fn query(mut self, name: &str, schema: Value, text: &str) -> Self {
        let param = json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": text });
        match self.value.get_mut("parameters").and_then(Value::as_array_mut) {
            Some(params) => params.push(param),
            None => self.value["parameters"] = json!([param]),
        }
        self
    }

    fn body(mut self, schema: Value) -> Self {
        self.value["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        self
    }

    fn raw_body(mut self, mime: &str, text: &str) -> Self {
        self.value["requestBody"] = json!({
            "required": true,
            "description": text,
            "content": { mime: { "schema": { "type": "string", "contentMediaType": "application/octet-stream" } } },
        });
        self
    }

    /// A JSON answer.
    fn ok(mut self, status: u16, text: &str, schema: Value) -> Self {
        self.value["responses"][status.to_string()] =
            json!({ "description": text, "content": { "application/json": { "schema": schema } } });
        self
    }

    /// An answer that is not JSON (a file, a picture, a stream).
    fn ok_as(mut self, status: u16, mime: &str, text: &str) -> Self {
        self.value["responses"][status.to_string()] =
            json!({ "description": text, "content": { mime: { "schema": { "type": "string" } } } });
        self
    }

    fn empty(mut self, status: u16, text: &str) -> Self {
        self.value["responses"][status.to_string()] = json!({ "description": text });
        self
    }

    /// Error answers, each `{"error": "..."}`.
    fn errors(mut self, codes: &[u16]) -> Self {
        for code in codes {
            self.value["responses"][code.to_string()] = json!({ "$ref": format!("#/components/responses/E{code}") });
        }
        self
    }
}

/// The error answers operations refer to.
const ERRORS: [(u16, &str); 12] = [
    (400, "The request is malformed or a value is out of range."),
    (401, "Not signed in, or the named user does not exist."),
    (403, "Signed in, but this needs a higher role."),
    (404, "There is no such thing."),
    (408, "The request's body stopped arriving before it was complete."),
    (409, "The thing is in a state that does not allow this (a busy printer, a finished job, a taken name)."),
    (413, "The upload is too big."),
    (415, "The file is not of a kind this accepts (not text G-code)."),
    (422, "The file or prompt could not be used."),
    (429, "Too many requests: a quota is used up."),
    (500, "The server failed; try again."),
    (503, "Not available now (shutting down, no database, no AI model)."),
];

// ---- The document -------------------------------------------------------------------------------------

/// The whole OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in operations() {
        let mut value = o.value;
        // What the server enforces (auth::policy) is what the document says; the table in `operations`
        // only fills in routes the policy refines per thing (job actions) or leaves open (health).
        let method = axum::http::Method::from_bytes(o.method.to_ascii_uppercase().as_bytes()).expect("a method");
        let word = match crate::auth::policy::access(&method, o.path) {
            Some(crate::auth::policy::Access::Public) => "anyone",
            Some(crate::auth::policy::Access::AtLeast(role)) => role.as_str(),
            None => o.needs.word(),
        };
        let needs = format!("Needs: {word}.");
        value["description"] = match value.get("description").and_then(Value::as_str) {
            Some(text) => format!("{text}\n\n{needs}").into(),
            None => needs.into(),
        };
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = value;
    }
    let mut responses = Map::new();
    for (code, text) in ERRORS {
        responses.insert(
            format!("E{code}"),
            json!({ "description": text, "content": { "application/json": { "schema": r("Error") } } }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Printfarm API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The print farm's REST API. JSON in and out; every error is `{\"error\": \"a sentence\"}` \
                with a 4xx or 5xx status. Each operation says the least role it needs \
                (admin > manager > teacher > maker > kiosk; \"anyone\" needs no sign-in). Sign in with the \
                session cookie from `POST /api/v1/auth/login`, or send an API key as `X-Api-Key` or \
                `Authorization: Bearer`. The live event stream is a WebSocket at `/api/v1/events`.",
            "license": { "name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later" },
        },
        "servers": [{ "url": "/" }],
        "security": [{ "session": [] }, { "apiKey": [] }, { "bearer": [] }],
        "tags": [
            { "name": "auth", "description": "Signing in and out, users and API keys." },
            { "name": "models", "description": "Uploaded and generated model files." },
            { "name": "generations", "description": "Text to a printable model." },
            { "name": "jobs", "description": "Print jobs and the queue." },
            { "name": "printers", "description": "Printers, spools loaded, discovery and maintenance." },
            { "name": "materials", "description": "Materials and spools." },
            { "name": "farm", "description": "Settings, time windows, statistics, notifications, audit." },
            { "name": "octoprint", "description": "The part of OctoPrint's API slicers use to send files." },
            { "name": "operations", "description": "Health, readiness, metrics, this document." },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": { "type": "apiKey", "in": "cookie", "name": "printfarm_session",
                    "description": "Set by POST /api/v1/auth/login (or /auth/pin at a kiosk)." },
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-Api-Key",
                    "description": "A key from POST /api/v1/api-keys." },
                "bearer": { "type": "http", "scheme": "bearer",
                    "description": "The same API key as `Authorization: Bearer KEY`." },
            },
            "responses": responses,
            "schemas": schemas(),
        },
    })
}

fn operations() -> Vec<Op> {
    use Needs::*;
    vec![
        // ---- Operations
        op("get", "/healthz", "operations", Anyone, "Liveness: is the server up and does the database answer")
            .ok(200, "Up.", r("Health"))
            .ok(503, "Up, but the database does not answer.", r("Health")),
        op("get", "/readyz", "operations", Anyone, "Readiness: should a load balancer send work")
            .ok(200, "Ready.", r("Ready"))
            .ok(503, "Shutting down or no database.", r("Ready")),
        op("get", "/metrics", "operations", Anyone, "Prometheus metrics")
            .about("Requests by status class, latencies, slicing and generation times, jobs and printers by state.")
            .ok_as(200, "text/plain", "Prometheus text format."),
        op("get", "/api/v1/openapi.json", "operations", Anyone, "This document").ok(
            200,
            "The OpenAPI 3.1 document.",
            json!({ "type": "object" }),
        ),
        op("get", "/api/docs", "operations", Anyone, "The interactive API documentation (this document in Swagger UI)")
            .ok_as(200, "text/html", "An HTML page."),
        // ---- Auth, users, API keys
        op("post", "/api/v1/auth/login", "auth", Anyone, "Sign in with a username and password")
            .about("Sets the `printfarm_session` cookie.")
            .body(object(&[("username", string()), ("password", string())], &[]))
            .ok(200, "Signed in.", object(&[("user", r("User"))], &[]))
            .errors(&[400, 401, 429]),
        op("post", "/api/v1/auth/logout", "auth", Kiosk, "Sign out (ends this session)")
            .empty(204, "Signed out; the cookie is cleared."),
        op("get", "/api/v1/auth/me", "auth", Kiosk, "Who is signed in")
            .ok(200, "The signed-in user.", object(&[("user", r("User"))], &[]))
            .errors(&[401]),
        op("put", "/api/v1/auth/password", "auth", Maker, "Change your own password")
            .about("Needs the current password; wrong tries count like wrong sign-ins. Your other sessions end; this one stays. Your API keys are revoked (but the one making this call). Not from a kiosk PIN sign-in.")
            .body(object(&[("current_password", string()), ("new_password", string())], &[]))
            .empty(204, "Changed.")
            .errors(&[400, 401, 403, 429]),
        op("post", "/api/v1/auth/setup", "auth", Anyone, "Create the first admin")
            .about("Only while no user exists (the first run); signs the new admin in.")
            .body(object(&[("username", string()), ("password", string())], &[("display_name", string())]))
            .ok(201, "The admin was created and signed in.", object(&[("user", r("User"))], &[]))
            .errors(&[400, 409]),
        op("post", "/api/v1/auth/pin", "auth", Anyone, "Quick sign-in at a kiosk with a name and PIN")
            .about("Only from a kiosk device: the kiosk account's own session cookie (`printfarm_device`), never an API key. The session ends after a short idle time. Five wrong PINs per name in 5 minutes, from all kiosks together.")
            .body(object(&[("username", string()), ("pin", string())], &[]))
            .ok(200, "Signed in.", object(&[("user", r("User"))], &[]))
            .errors(&[400, 401, 403, 429]),
        op("get", "/api/v1/users", "auth", Admin, "Every user").ok(200, "The users.", list(r("User"))).errors(&[401, 403]),
        op("post", "/api/v1/users", "auth", Admin, "Create a user")
            .body(r("NewUser"))
            .ok(201, "The new user.", r("User"))
            .errors(&[400, 401, 403, 409]),
        op("patch", "/api/v1/users/{id}", "auth", Admin, "Change a user (name, role, password, PIN, disabled)")
            .body(r("UserChange"))
            .ok(200, "The changed user.", r("User"))
            .errors(&[400, 401, 403, 404]),
        op("delete", "/api/v1/users/{id}", "auth", Admin, "Delete a user")
            .empty(204, "Deleted.")
            .errors(&[401, 403, 404, 409]),
        op("get", "/api/v1/api-keys", "auth", Kiosk, "API keys: your own (an admin sees everyone's)")
            .ok(200, "The keys (never the secret itself).", list(r("ApiKey")))
            .errors(&[401]),
        op("post", "/api/v1/api-keys", "auth", Kiosk, "Create an API key for yourself")
            .body(object(&[("name", string())], &[]))
            .about("The key is shown once, in this answer. The kiosk role is only for a kiosk's own account (an admin makes those keys).")
            .ok(201, "The new key.", r("NewApiKey"))
            .errors(&[400, 401]),
        op("delete", "/api/v1/api-keys", "auth", Kiosk, "Revoke all your own API keys")
            .about("Every key of the caller but the one making this call (if a key makes it); nobody else's.")
            .ok(200, "How many were revoked.", object(&[("revoked", integer())], &[]))
            .errors(&[401, 403]),
        op("delete", "/api/v1/api-keys/{id}", "auth", Kiosk, "Revoke an API key (your own; an admin any)")
            .empty(204, "Revoked.")
            .errors(&[401, 403, 404]),
        // ---- OctoPrint compatibility
        op("get", "/api/version", "octoprint", Maker, "OctoPrint-compatible version (slicers test the connection with it)")
            .about("Send the API key as `X-Api-Key`. `text` starts with \"OctoPrint\", which PrusaSlicer checks.")
            .ok(200, "Versions.", object(&[("api", string()), ("server", string()), ("text", string())], &[]))
            .errors(&[401, 403]),
        op("post", "/api/files/local", "octoprint", Maker, "OctoPrint-compatible upload (PrusaSlicer, Cura, OrcaSlicer)")
            .about(
                "Multipart form with the G-code as `file` (.gcode, .gco, .g; binary .bgcode is refused: turn \
                 binary G-code off in the slicer). Send the API key as `X-Api-Key`. The file becomes one job, \
                 owned by the key's user and under the usual approval rules, that is printed as it is (never \
                 re-sliced) on a printer with the nozzle, bed size and material its comments name; its \
                 estimate and filament come from those comments too. `print` is accepted but the job is \
                 queued either way (the farm decides when), so `effectivePrint` is always false; `path` is ignored.",
            )
            .raw_body("multipart/form-data", "A form with the field `file` (and optionally `print`, `path`).")
            .ok(201, "Queued.", object(&[
                ("done", boolean()),
                ("effectivePrint", boolean()),
                ("effectiveSelect", boolean()),
                ("files", object(&[("local", object(&[
                    ("name", described(string(), "The file's name as sent, without folders.")),
                    ("display", string()),
                    ("path", string()),
                    ("origin", json!({ "enum": ["local"] })),
                    ("refs", object(&[
                        ("resource", described(string(), "The job made from the file.")),
                        ("download", described(string(), "The job too: the farm does not hand files back.")),
                    ], &[])),
                ], &[]))], &[])),
                ("jobs", described(list(r("Job")), "The job made from the file.")),
            ], &[]))
            .errors(&[400, 401, 403, 413, 415, 429]),
        // ---- Models
        op("post", "/api/v1/models", "models", Maker, "Upload a model (STL, 3MF, OBJ, glTF/GLB) as the request body")
            .query("name", string(), "The file's name (the format is sniffed from the content).")
            .raw_body("application/octet-stream", "The model file.")
            .ok(201, "Stored and measured.", r("StoredModel"))
            .errors(&[401, 408, 413, 422]),
        op("get", "/api/v1/models/versions/{id}", "models", Kiosk, "A model version and its geometry")
            .ok(200, "The version.", r("ModelVersion"))
            .errors(&[404]),
        op("get", "/api/v1/models/versions/{id}/file", "models", Kiosk, "The model version's file")
            .ok_as(200, "application/octet-stream", "The file (model/3mf, model/stl, model/gltf-binary…).")
            .errors(&[404]),
        op("get", "/api/v1/models/versions/{id}/thumbnail.png", "models", Kiosk, "A shaded picture of the model")
            .ok_as(200, "image/png", "PNG.")
            .errors(&[404, 422]),
        // ---- Generations
        op("get", "/api/v1/generations", "generations", Maker, "Your generation requests, newest first")
            .query("limit", integer(), "At most this many (1–500, default 50).")
            .ok(200, "The requests.", list(r("Generation")))
            .errors(&[401]),
        op("post", "/api/v1/generations", "generations", Maker, "Ask for a model from a prompt")
            .body(r("GenerationRequest"))
            .ok(202, "Queued (or already done, from the cache).", r("GenerationQueued"))
            .ok(200, "Nothing matched well: choose a design and send it back as `template`.", r("GenerationChoose"))
            .errors(&[400, 401, 422, 429, 503]),
        op("get", "/api/v1/generations/status", "generations", Kiosk, "Whether AI shapes are available, in words")
            .ok(200, "The status.", object(&[("shap_e", json!({})), ("message", string())], &[])),
        op("get", "/api/v1/generations/templates", "generations", Kiosk, "Every ready-made design with its parameters")
            .ok(200, "The catalogue.", list(json!({ "type": "object" }))),
        op("get", "/api/v1/generations/{id}", "generations", Maker, "One generation request")
            .ok(200, "The request.", r("Generation"))
            .errors(&[404]),
        op("post", "/api/v1/generations/{id}/cancel", "generations", Maker, "Cancel a request (yours; a teacher any)")
            .ok(200, "The cancelled request.", r("Generation"))
            .errors(&[401, 403, 404]),
        op("get", "/api/v1/generations/{id}/events", "generations", Maker, "Progress as server-sent events")
            .about("Each event's data is a GenerationEvent; the stream ends when the request is done, failed or cancelled.")
            .ok_as(200, "text/event-stream", "Server-sent events of GenerationEvent JSON.")
            .errors(&[404]),
        op("get", "/api/v1/generations/{id}/preview.glb", "generations", Maker, "The latest coarse preview while the AI model runs")
            .ok_as(200, "model/gltf-binary", "GLB.")
            .errors(&[404]),
        op("get", "/api/v1/generations/{id}/preview.png", "generations", Kiosk, "The latest coarse preview, drawn")
            .about("The same preview as preview.glb, as a 256 × 256 picture; `preview` in the request's progress goes up when it changes.")
            .ok_as(200, "image/png", "PNG.")
            .errors(&[404]),
        // ---- Jobs and the queue
        op("get", "/api/v1/jobs", "jobs", Kiosk, "Jobs, newest first")
            .query("state", string(), "Comma-separated job states, e.g. `queued,printing`.")
            .query("owner", integer(), "Only this user's jobs.")
            .query("printer", integer(), "Only jobs on this printer.")
            .query("limit", integer(), "At most this many (1–10000, default 200).")
            .ok(200, "The jobs.", list(r("Job")))
            .errors(&[400]),
        op("post", "/api/v1/jobs", "jobs", Maker, "Print a model version (one job per copy)")
            .about("Jobs wait for a teacher when the submitter's role is in the `approval_roles` setting.")
            .body(r("Submission"))
            .ok(201, "The new jobs.", list(r("Job")))
            .errors(&[400, 401, 404, 409]),
        op("get", "/api/v1/jobs/{id}", "jobs", Kiosk, "A job with its history")
            .ok(200, "The job.", r("JobDetail"))
            .errors(&[404]),
        op("patch", "/api/v1/jobs/{id}", "jobs", Manager, "Change a waiting job's priority or move it before another")
            .body(object(&[], &[("priority", integer()), ("before", described(integer(), "Serve this job right before that job."))]))
            .ok(200, "The job.", r("Job"))
            .errors(&[400, 404, 409]),
        op("get", "/api/v1/jobs/{id}/thumbnail.png", "jobs", Kiosk, "A picture of what the job prints")
            .ok_as(200, "image/png", "PNG.")
            .errors(&[404]),
        job_action("approve", Teacher, "Approve a job that waits for a teacher"),
        job_action("reject", Teacher, "Reject a job that waits for a teacher"),
        job_action("cancel", Maker, "Cancel a job (yours; a teacher any)"),
        job_action("pause", Teacher, "Pause a printing job"),
        job_action("resume", Teacher, "Resume a paused job"),
        job_action("retry", Maker, "Queue a failed or cancelled job again (yours; a teacher any)"),
        op("get", "/api/v1/queue", "jobs", Kiosk, "Every waiting job in service order, with its printer and estimated times")
            .ok(200, "The forecast.", list(r("QueueEntry"))),
        // ---- Printers
        op("get", "/api/v1/printers", "printers", Kiosk, "Every printer with its live status")
            .ok(200, "The printers.", list(r("PrinterStatus"))),
        op("post", "/api/v1/printers", "printers", Manager, "Add a printer")
            .body(r("NewPrinter"))
            .ok(201, "The printer.", r("Printer"))
            .errors(&[400, 409]),
        op("get", "/api/v1/printers/discover", "printers", Manager, "Find printers: USB serial, mDNS and hosts asked directly")
            .query("mdns_ms", integer(), "How long to listen for mDNS (0 skips it; at most 10000, default 2000).")
            .query("probe", boolean(), "Ask USB serial bridges `M115` (default true).")
            .query("host", string(), "Comma-separated base URLs to ask directly (http:// or https://).")
            .ok(200, "What was found.", object(&[("serial", list(json!({ "type": "object" }))), ("network", list(json!({ "type": "object" })))], &[]))
            .errors(&[400]),
        op("get", "/api/v1/printers/{id}", "printers", Kiosk, "A printer's settings and live status")
            .ok(200, "The printer.", object(&[("printer", r("Printer")), ("status", nullable(r("PrinterStatus")))], &[]))
            .errors(&[404]),
        op("patch", "/api/v1/printers/{id}", "printers", Manager, "Change a printer (a new `connection` reconnects it)")
            .body(r("PrinterChange"))
            .ok(200, "The printer.", r("Printer"))
            .errors(&[400, 404, 409]),
        op("delete", "/api/v1/printers/{id}", "printers", Manager, "Remove a printer")
            .empty(204, "Removed.")
            .errors(&[404, 409]),
        op("post", "/api/v1/printers/{id}/bed-clear", "printers", Maker, "Confirm the printer's bed is empty")
            .ok(200, "The printer.", r("Printer"))
            .errors(&[401, 404]),
        op("put", "/api/v1/printers/{id}/spool", "printers", Manager, "Load a spool on a printer (null unloads)")
            .body(object(&[("spool_id", nullable(integer()))], &[]))
            .ok(200, "The printer.", r("Printer"))
            .errors(&[400, 404, 409]),
        op("post", "/api/v1/printers/{id}/maintenance", "printers", Manager, "Add a maintenance task to a printer")
            .body(object(&[("name", string()), ("every_hours", number())], &[]))
            .ok(201, "The task's id.", object(&[("id", integer())], &[]))
            .errors(&[400, 404]),
        op("get", "/api/v1/maintenance", "printers", Manager, "Maintenance tasks and whether they are due")
            .query("printer", integer(), "Only this printer's tasks.")
            .ok(200, "The tasks.", list(r("MaintenanceDue"))),
        op("post", "/api/v1/maintenance/{id}/done", "printers", Manager, "Record a maintenance task as done")
            .empty(204, "Recorded.")
            .errors(&[404]),
        // ---- Materials and spools
        op("get", "/api/v1/materials", "materials", Kiosk, "Materials the farm stocks").ok(200, "The materials.", list(r("Material"))),
        op("post", "/api/v1/materials", "materials", Manager, "Add a material")
            .body(r("NewMaterial"))
            .ok(201, "The material's id.", object(&[("id", integer())], &[]))
            .errors(&[400, 409]),
        op("get", "/api/v1/spools", "materials", Kiosk, "Spools in the inventory").ok(200, "The spools.", list(r("Spool"))),
        op("post", "/api/v1/spools", "materials", Manager, "Add a spool")
            .body(r("NewSpool"))
            .ok(201, "The spool.", r("Spool"))
            .errors(&[400]),
        op("patch", "/api/v1/spools/{id}", "materials", Manager, "Record what a spool weighs now")
            .body(object(&[("remaining_g", number())], &[]))
            .ok(200, "The spool.", r("Spool"))
            .errors(&[400, 404]),
        // ---- Farm: statistics, groups, notifications, settings, windows, audit
        op("get", "/api/v1/stats/printers", "farm", Manager, "Per printer: hours, filament, cost, outcomes")
            .ok(200, "The figures.", list(r("PrinterStats"))),
        op("get", "/api/v1/stats/users", "farm", Teacher, "Per user: jobs, hours, filament, cost").ok(200, "The figures.", list(r("UsageStats"))),
        op("get", "/api/v1/stats/groups", "farm", Teacher, "Per group (class): jobs, hours, filament, cost")
            .ok(200, "The figures.", list(r("UsageStats"))),
        op("get", "/api/v1/stats/utilisation", "farm", Manager, "How busy each printer was")
            .query("hours", number(), "Over the last this many hours (default a week).")
            .ok(200, "Utilisation 0–1 per printer.", object(&[("hours", number()), ("printers", list(object(&[("printer_id", integer()), ("utilisation", number())], &[])))], &[])),
        op("post", "/api/v1/groups", "farm", Teacher, "Put users in a group (a class), created when new")
            .body(object(&[("name", string()), ("members", described(list(string()), "Usernames."))], &[]))
            .ok(201, "The group.", object(&[("id", integer()), ("members", integer())], &[]))
            .errors(&[400]),
        op("get", "/api/v1/notifications", "farm", Maker, "Notifications, newest first")
            .query("user", integer(), "Only this user's.")
            .query("limit", integer(), "At most this many (1–1000, default 100).")
            .ok(200, "The notifications.", list(r("Notification"))),
        op("post", "/api/v1/notifications/{id}/read", "farm", Maker, "Mark a notification as read")
            .empty(204, "Marked.")
            .errors(&[404]),
        op("get", "/api/v1/farm/settings", "farm", Manager, "The farm's settings").ok(200, "The settings.", r("Settings")),
        op("put", "/api/v1/farm/settings", "farm", Manager, "Change some settings (only the keys sent)")
            .body(r("Settings"))
            .ok(200, "All settings after the change.", r("Settings"))
            .errors(&[400]),
        op("get", "/api/v1/farm/windows", "farm", Manager, "Quiet, overnight and maintenance windows")
            .ok(200, "The windows.", list(r("Window"))),
        op("post", "/api/v1/farm/windows", "farm", Manager, "Add a window")
            .body(r("Window"))
            .ok(201, "The window's id.", object(&[("id", integer())], &[]))
            .errors(&[400]),
        op("delete", "/api/v1/farm/windows/{id}", "farm", Manager, "Remove a window").empty(204, "Removed.").errors(&[404]),
        op("get", "/api/v1/audit", "farm", Manager, "Every change made through the API, newest first")
            .query("limit", integer(), "At most this many (1–1000, default 100).")
            .ok(200, "The events.", list(r("AuditEvent"))),
        op("get", "/api/v1/events", "farm", Kiosk, "The live event stream (WebSocket)")
            .about("Upgrade to a WebSocket: a `snapshot` of every printer first, then one JSON text frame per change (`printer`, `job`, `queue`, `notification`).")
            .empty(101, "Switching to the WebSocket protocol.")
            .errors(&[400]),
    ]
}

fn job_action(action: &'static str, needs: Needs, summary: &str) -> Op {
    let path = match action {
        "approve" => "/api/v1/jobs/{id}/approve",
        "reject" => "/api/v1/jobs/{id}/reject",
        "cancel" => "/api/v1/jobs/{id}/cancel",
        "pause" => "/api/v1/jobs/{id}/pause",
        "resume" => "/api/v1/jobs/{id}/resume",
        _ => "/api/v1/jobs/{id}/retry",
    };
    let mut o = op("post", path, "jobs", needs, summary);
    o.value["requestBody"] = json!({
        "required": false,
        "content": { "application/json": { "schema": object(&[], &[("reason", described(string(), "Why, in words (kept in the job's history)."))]) } },
    });
    o.ok(200, "The job after the change.", r("Job")).errors(&[400, 401, 404, 409])
}

fn schemas() -> Value {
    let id = || json!({ "type": "integer", "format": "int64" });
    let opt_id = || json!({ "type": ["integer", "null"], "format": "int64" });
    let opt_string = || nullable(string());
    let opt_number = || nullable(number());
    let time = || described(string(), "UTC, ISO 8601.");
    let opt_time = || nullable(time());
    let roles = || json!({ "type": "string", "enum": ["kiosk", "maker", "teacher", "manager", "admin"] });
    let mm3 = || json!({ "type": "array", "items": number(), "minItems": 3, "maxItems": 3 });
    let named: Vec<(&str, Value)> = vec![
        ("Error", object(&[("error", described(string(), "What went wrong, in a sentence for people."))], &[])),
        ("Health", object(&[("status", json!({ "enum": ["ok", "degraded"] })), ("version", string()), ("database", string()), ("printers", integer())], &[])),
        ("Ready", object(&[("ready", boolean()), ("database", string()), ("shutting_down", boolean())], &[])),
        ("Role", roles()),
        ("User", object(&[("id", id()), ("username", string()), ("display_name", string()), ("role", r("Role"))], &[("disabled", boolean())])),
        ("NewUser", object(&[("username", string()), ("role", r("Role"))], &[("display_name", string()), ("password", string()), ("pin", string())])),
        ("UserChange", object(&[], &[("display_name", string()), ("role", r("Role")), ("password", string()), ("pin", nullable(string())), ("disabled", boolean())])),
        ("ApiKey", object(&[("id", id()), ("name", string()), ("created_at", time())], &[("user_id", id()), ("last_used_at", opt_time())])),
        ("NewApiKey", object(&[("id", id()), ("name", string()), ("key", described(string(), "The secret, shown only now."))], &[("created_at", time())])),
        ("StoredModel", object(&[
            ("model_id", id()), ("version_id", id()), ("name", string()), ("format", string()), ("triangles", integer()),
            ("size_mm", described(mm3(), "Bounding box, mm.")), ("volume_mm3", number()),
        ], &[])),
        ("ModelVersion", object(&[
            ("id", id()), ("model_id", id()), ("name", string()), ("owner_id", opt_id()), ("version", integer()),
            ("file_path", string()), ("format", string()), ("sha256", string()), ("size_bytes", integer()),
            ("triangles", nullable(integer())), ("size_x_mm", opt_number()), ("size_y_mm", opt_number()),
            ("size_z_mm", opt_number()), ("volume_mm3", opt_number()),
        ], &[])),
        ("GenerationRequest", object(&[("prompt", string())], &[
            ("quality", json!({ "enum": ["low", "medium", "high"] })),
            ("seed", integer()),
            ("tier", json!({ "enum": ["auto", "procedural", "shap-e"] })),
            ("size_mm", described(number(), "Largest dimension, mm.")),
            ("variations", json!({ "type": "integer", "minimum": 1, "maximum": 4 })),
            ("template", described(string(), "A design key from a suggestion.")),
            ("params", described(json!({ "type": "object" }), "Design parameters to override.")),
        ])),
        ("GenerationState", json!({ "type": "string", "enum": ["queued", "running", "done", "failed", "cancelled"] })),
        ("Generation", object(&[
            ("id", id()), ("user_id", opt_id()), ("prompt", string()), ("normalised_prompt", string()), ("quality", string()),
            ("seed", integer()), ("tier", string()), ("template", opt_string()), ("params", json!({})), ("size_mm", opt_number()),
            ("batch_id", opt_id()), ("state", r("GenerationState")), ("step", integer()), ("total_steps", integer()),
            ("cache_key", opt_string()), ("cached", boolean()), ("model_id", opt_id()), ("model_version_id", opt_id()),
            ("error", opt_string()), ("notes", list(string())), ("created_at", time()), ("started_at", opt_time()),
            ("finished_at", opt_time()),
        ], &[])),
        ("GenerationQueued", object(&[("outcome", json!({ "const": "queued" })), ("generations", list(r("Generation")))], &[])),
        ("GenerationChoose", object(&[
            ("outcome", json!({ "const": "choose" })), ("reason", string()),
            ("suggestions", list(object(&[("template", string()), ("name", string()), ("description", string()), ("score", number()), ("params", json!({ "type": "object" }))], &[]))),
        ], &[])),
        ("GenerationEvent", object(&[
            ("id", id()), ("state", r("GenerationState")), ("stage", string()), ("step", integer()), ("total", integer()),
            ("preview", described(integer(), "Goes up each time a new preview.glb is ready.")),
            ("model_version_id", opt_id()), ("error", opt_string()),
        ], &[])),
        ("JobState", json!({ "type": "string", "enum": ["submitted", "awaiting_approval", "queued", "slicing", "ready", "assigned", "printing", "paused", "done", "failed", "cancelled"] })),
        ("Job", object(&[
            ("id", id()), ("name", string()), ("model_version_id", described(opt_id(), "None for G-code sent from a slicer.")), ("owner_id", opt_id()), ("state", r("JobState")),
            ("material_kind", opt_string()), ("colour", opt_string()), ("quality", string()), ("copies", integer()),
            ("batch_id", opt_id()), ("copy_index", integer()), ("printer_group", opt_string()), ("priority", integer()),
            ("deadline", opt_time()), ("nozzle_mm", opt_number()), ("size_mm", described(mm3(), "The plate's bounding box, mm.")),
            ("printer_id", opt_id()), ("gcode_path", opt_string()), ("estimate_s", nullable(integer())), ("filament_g", opt_number()),
            ("sliced_for", opt_string()), ("remote_file", opt_string()), ("spool_id", opt_id()), ("attempts", integer()),
            ("max_attempts", integer()), ("avoid_printers", list(id())), ("progress", described(opt_number(), "0–1 while printing.")),
            ("started_at", opt_time()), ("finished_at", opt_time()), ("print_s", number()), ("filament_used_g", number()),
            ("cost", number()), ("error", described(opt_string(), "The printer's own words when it failed.")),
            ("queue_pos", opt_number()), ("plate", described(list(id()), "Further model versions on the same plate.")),
            ("presliced", described(boolean(), "The G-code came from a slicer: printed as it is, never re-sliced.")),
            ("created_at", time()), ("updated_at", time()),
        ], &[])),
        ("JobView", object(&[
            ("id", id()), ("name", string()), ("owner_id", opt_id()), ("state", r("JobState")), ("printer_id", opt_id()),
            ("progress", opt_number()), ("material_kind", opt_string()), ("colour", opt_string()),
            ("estimate_s", nullable(integer())), ("filament_g", opt_number()), ("attempts", integer()), ("error", opt_string()),
        ], &[])),
        ("JobTransition", object(&[("from", nullable(r("JobState"))), ("to", r("JobState")), ("actor_id", opt_id()), ("reason", opt_string()), ("at", time())], &[])),
        ("JobDetail", object(&[("job", r("Job")), ("view", r("JobView")), ("history", list(r("JobTransition")))], &[])),
        ("Submission", object(&[("model_version_id", id())], &[
            ("plate", described(list(id()), "Further model versions printed on the same plate.")),
            ("name", string()), ("material_kind", string()), ("colour", string()),
            ("quality", json!({ "type": "string", "description": "draft, standard, fine or detail." })),
            ("copies", integer()), ("printer_group", described(string(), "A printer tag, e.g. `room 2`.")),
            ("priority", integer()), ("deadline", described(string(), "RFC 3339.")), ("nozzle_mm", number()),
            ("max_attempts", integer()),
        ])),
        ("QueueEntry", object(&[
            ("job", r("Job")), ("position", described(integer(), "0 = served next.")), ("printer_id", opt_id()),
            ("start", opt_time()), ("finish", opt_time()), ("blocked", described(opt_string(), "Why it cannot be placed, in words.")),
            ("sliced", described(boolean(), "False: not sliced yet, 30 minutes assumed.")),
        ], &[])),
        ("PrinterState", json!({ "type": "string", "enum": ["disconnected", "connecting", "idle", "printing", "paused", "finishing", "error"] })),
        ("Temperature", object(&[("actual", number()), ("target", number())], &[])),
        ("PrinterStatus", object(&[
            ("id", id()), ("name", string()), ("driver", string()), ("tags", list(string())), ("state", r("PrinterState")),
            ("hotend", r("Temperature")), ("bed", r("Temperature")), ("progress", opt_number()),
            ("current_layer", nullable(integer())), ("total_layers", nullable(integer())), ("file", opt_string()),
            ("remaining_s", nullable(integer())), ("message", opt_string()), ("bed_clear", boolean()), ("enabled", boolean()),
            ("maintenance", boolean()), ("job_id", opt_id()), ("job_name", opt_string()),
            ("material", described(opt_string(), "What is loaded, e.g. \"PLA · Red · 640 g left\".")),
        ], &[])),
        ("Printer", object(&[
            ("id", id()), ("name", string()), ("driver", string()), ("build_x_mm", number()), ("build_y_mm", number()),
            ("build_z_mm", number()), ("nozzle_mm", number()), ("firmware", string()), ("tags", list(string())),
            ("enabled", boolean()), ("maintenance", boolean()), ("require_bed_clear", boolean()), ("bed_clear", boolean()),
            ("slicer_profile", opt_string()), ("loaded_spool_id", opt_id()),
            ("api_key_set", described(boolean(), "Whether a credential is stored (sealed; never shown).")),
        ], &[])),
        ("NewPrinter", object(&[
            ("name", string()), ("driver", json!({ "enum": ["marlin", "octoprint", "moonraker", "simulated"] })),
            ("build_mm", described(mm3(), "Build volume x, y, z in mm.")),
        ], &[
            ("connection", described(json!({ "type": "object" }), "`{\"port\": \"/dev/ttyACM0\", \"baud\": 115200}` or `{\"url\": \"http://…\", \"api_key\": \"…\"}`.")),
            ("nozzle_mm", number()), ("firmware", string()), ("tags", list(string())), ("slicer_profile", string()),
            ("require_bed_clear", boolean()),
        ])),
        ("PrinterChange", object(&[], &[
            ("name", string()), ("tags", list(string())), ("enabled", boolean()), ("maintenance", boolean()),
            ("require_bed_clear", boolean()), ("nozzle_mm", number()), ("build_mm", mm3()), ("slicer_profile", string()),
            ("connection", json!({ "type": "object" })),
        ])),
        ("Material", object(&[
            ("id", id()), ("name", string()), ("kind", r("MaterialKind")), ("diameter_mm", number()),
            ("density_g_cm3", number()), ("cost_per_kg", opt_number()),
        ], &[])),
        ("MaterialKind", json!({ "type": "string", "enum": ["PLA", "PETG", "ABS", "ASA", "TPU", "PA", "PC", "OTHER"] })),
        ("NewMaterial", object(&[("name", string()), ("kind", r("MaterialKind"))], &[("density_g_cm3", number()), ("cost_per_kg", number())])),
        ("Spool", object(&[
            ("id", id()), ("material_id", id()), ("material_kind", string()), ("material_name", string()),
            ("colour_name", string()), ("colour_hex", opt_string()), ("vendor", opt_string()), ("initial_g", number()),
            ("remaining_g", number()), ("cost_per_kg", opt_number()), ("archived", boolean()),
            ("printer_id", described(opt_id(), "The printer it is loaded on.")),
        ], &[])),
        ("NewSpool", object(&[("material_id", id()), ("colour_name", string()), ("initial_g", number())], &[
            ("colour_hex", string()), ("vendor", string()), ("remaining_g", described(number(), "Defaults to initial_g.")),
        ])),
        ("MaintenanceDue", object(&[
            ("task", object(&[("id", id()), ("printer_id", id()), ("name", string()), ("every_hours", number()), ("done_at_hours", number()), ("done_at", opt_time())], &[])),
            ("hours_since", number()), ("due", boolean()),
        ], &[])),
        ("Notification", object(&[
            ("id", id()), ("at", time()), ("kind", string()), ("severity", json!({ "enum": ["info", "warning", "error"] })),
            ("message", string()), ("job_id", opt_id()), ("printer_id", opt_id()), ("user_id", opt_id()), ("read_at", opt_time()),
        ], &[])),
        ("PrinterStats", object(&[
            ("printer_id", id()), ("name", string()), ("print_hours", number()), ("filament_g", number()), ("cost", number()),
            ("runs", integer()), ("done", integer()), ("failed", integer()), ("cancelled", integer()),
        ], &[])),
        ("UsageStats", object(&[
            ("id", id()), ("name", string()), ("jobs_done", integer()), ("jobs_failed", integer()), ("print_hours", number()),
            ("filament_g", number()), ("cost", number()),
        ], &[])),
        ("Settings", json!({
            "type": "object",
            "properties": {
                "max_heating": described(nullable(json!({ "type": "integer", "minimum": 1 })), "Printers heating at once."),
                "webhook_url": nullable(string()),
                "approval_roles": described(list(r("Role")), "Whose jobs wait for a teacher."),
                "changeover_min": opt_number(),
                "long_job_hours": opt_number(),
                "approve_ai_output": boolean(),
                "shap_e_on_cpu": boolean(),
                "generation_blocklist": list(string()),
                "generation_quota_per_hour": described(json!({ "type": "object", "additionalProperties": nullable(integer()) }), "Per role."),
                "job_quota": described(json!({ "type": "object", "additionalProperties": nullable(integer()) }), "Unfinished jobs at once, per role (makers and kiosks 20 unless set)."),
                "filament_quota_g_per_week": described(json!({ "type": "object", "additionalProperties": nullable(integer()) }), "Grams of filament in seven days, per role."),
                "generation_quota_users": described(json!({ "type": "object", "additionalProperties": nullable(integer()) }), "Generations per hour, per user name (wins over the role's; null: no limit)."),
                "job_quota_users": described(json!({ "type": "object", "additionalProperties": nullable(integer()) }), "Unfinished jobs at once, per user name (wins over the role's; null: no limit)."),
                "filament_quota_users": described(json!({ "type": "object", "additionalProperties": nullable(number()) }), "Grams in seven days, per user name (wins over the role's)."),
                "kiosk_idle_s": described(integer(), "Seconds a PIN sign-in at a kiosk lasts without a touch (10–3600, default 120)."),
            },
        })),
        ("Window", object(&[
            ("kind", json!({ "enum": ["quiet", "overnight", "maintenance"] })),
            ("cron", described(string(), "Six fields, seconds first, UTC: `0 0 22 * * *` is 22:00 every day.")),
            ("duration_min", integer()),
        ], &[("id", id()), ("label", string()), ("printer_id", opt_id())])),
        ("AuditEvent", object(&[
            ("id", id()), ("at", time()), ("actor_id", opt_id()), ("action", string()), ("target_kind", opt_string()),
            ("target_id", opt_id()), ("detail", json!({})), ("ip", opt_string()),
        ], &[])),
    ];
    Value::Object(named.into_iter().map(|(name, schema)| (name.to_string(), schema)).collect())
}
