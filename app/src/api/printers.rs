//! Server functions for the Printers, Printer detail, Library and Settings pages.
//!
//! The server implements [`PrinterDesk`] in `server/src/desks/printers.rs`. Changes that the REST API
//! already offers (adding a printer, materials, spools, farm settings, windows, maintenance) go through
//! the very same REST handlers in-process ([`PrinterDesk::rest`]), so they are validated and audited in
//! one place; the rest (printer commands, users, model packs, the library) are audited by the desk.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use serde::{Deserialize, Serialize};

/// A printer's configuration and upkeep, as the Printers page lists it (live state comes from the
/// event stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterRow {
    pub id: i64,
    pub name: String,
    /// `simulated`, `marlin`, `octoprint` or `moonraker`.
    pub driver: String,
    /// G-code flavour, e.g. `marlin2`, `klipper`.
    pub firmware: String,
    pub build_mm: [f64; 3],
    pub nozzle_mm: f64,
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Where it is reached, in words ("/dev/ttyUSB0 at 115200 baud", "http://octopi.local"); never a key.
    pub address: String,
    pub loaded_spool_id: Option<i64>,
    /// Maintenance tasks that are due now.
    pub maintenance_due: Vec<String>,
    pub maintenance_tasks: u32,
}

/// One maintenance task of a printer with how long since it was last done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceView {
    pub id: i64,
    pub name: String,
    pub every_hours: f64,
    pub hours_since: f64,
    pub due: bool,
    pub done_at: Option<String>,
}

/// What the Printer detail page shows beyond the live [`crate::wire::PrinterView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterDetail {
    pub row: PrinterRow,
    /// The tool head's position (X, Y, Z) as the printer last reported it.
    pub position: Option<[f32; 3]>,
    /// The firmware's own name for itself (from `M115` or the host).
    pub firmware_name: Option<String>,
    /// The last error the printer or its connection gave, verbatim.
    pub last_error: Option<String>,
    pub maintenance: Vec<MaintenanceView>,
}

/// A printer found on USB or the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundPrinter {
    /// `usb` or `network`.
    pub kind: String,
    /// What to call it ("Prusa MK3S on /dev/ttyACM0", "octopi (OctoPrint)").
    pub label: String,
    /// The driver to add it with, when one fits.
    pub driver: Option<String>,
    /// The connection setting to add it with, as JSON.
    pub connection: String,
    pub already_added: bool,
    /// What else is known, in words (firmware, version, "in use by another program").
    pub detail: String,
    /// Whether an API key must be typed before it can be added (OctoPrint).
    pub needs_key: bool,
}

/// The answer to "can the farm talk to this printer?".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub ok: bool,
    pub message: String,
}

/// A person's account as the Settings page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
}

/// An installed AI model pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPackView {
    /// `<id>-<version>`, the name removal takes.
    pub id_version: String,
    pub name: String,
    pub version: String,
    pub megabytes: f64,
    pub installed_at: u64,
    pub active: bool,
}

/// One saved version of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    pub id: i64,
    pub version: i64,
    pub created_at: String,
    pub triangles: Option<i64>,
    pub size_mm: Option<[f64; 3]>,
}

/// A model in the library with its versions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryModel {
    pub id: i64,
    pub name: String,
    pub owner: Option<String>,
    /// `upload`, `generated` or `edit`.
    pub source: String,
    pub created_at: String,
    pub in_gallery: bool,
    pub versions: Vec<VersionView>,
}

#[cfg(feature = "ssr")]
pub type DeskFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// What the server provides (as Leptos context) for these pages. Every error is a sentence for people.
#[cfg(feature = "ssr")]
pub trait PrinterDesk: Send + Sync + 'static {
    /// Calls the farm's REST API in-process (`method`, a path under `/api/v1`, an optional JSON body)
    /// and returns the JSON answer, or the API's error sentence.
    fn rest<'a>(&'a self, method: &'a str, path: &'a str, body: Option<String>) -> DeskFuture<'a, String>;
    fn printers(&self) -> DeskFuture<'_, Vec<PrinterRow>>;
    fn printer(&self, id: i64) -> DeskFuture<'_, PrinterDetail>;
    fn discover(&self) -> DeskFuture<'_, Vec<FoundPrinter>>;
    /// Opens a temporary connection with these settings and reports what the printer answered.
    fn test_connection(&self, driver: String, connection: String) -> DeskFuture<'_, ConnectionTest>;
    /// A manual command: `preheat_pla`, `preheat_petg`, `cool`, `home`, `jog` (with `axis` and `mm`),
    /// `pause`, `resume`, `cancel`, `emergency_stop`. Returns what was done, in words.
    fn command(&self, id: i64, action: String, axis: Option<String>, mm: Option<f64>) -> DeskFuture<'_, String>;
    fn users(&self) -> DeskFuture<'_, Vec<UserView>>;
    /// A new account; `password` (8+ characters) and `pin` (4–8 digits) are optional, empty means none.
    fn add_user(
        &self,
        username: String,
        display_name: String,
        role: String,
        password: String,
        pin: String,
    ) -> DeskFuture<'_, UserView>;
    fn model_packs(&self) -> DeskFuture<'_, Vec<ModelPackView>>;
    /// `rollback` or `remove` (with the pack's `<id>-<version>`).
    fn model_pack_action(&self, action: String, pack: Option<String>) -> DeskFuture<'_, String>;
    fn library(&self, search: String, gallery_only: bool) -> DeskFuture<'_, Vec<LibraryModel>>;
    fn set_gallery(&self, model: i64, in_gallery: bool) -> DeskFuture<'_, ()>;
}

#[cfg(feature = "ssr")]
pub type SharedPrinterDesk = std::sync::Arc<dyn PrinterDesk>;

#[cfg(feature = "ssr")]
fn desk() -> Result<SharedPrinterDesk, ServerFnError> {
    use_context::<SharedPrinterDesk>().ok_or_else(|| ServerFnError::new("the farm service is not running"))
}

#[cfg(feature = "ssr")]
pub(crate) async fn rest(method: &str, path: &str, body: Option<serde_json::Value>) -> Result<String, ServerFnError> {
    desk()?.rest(method, path, body.map(|b| b.to_string())).await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub(crate) async fn rest_json<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, ServerFnError> {
    let text = rest("GET", path, None).await?;
    serde_json::from_str(&text).map_err(|e| ServerFnError::new(format!("the server's answer was not understood: {e}")))
}

#[cfg(feature = "ssr")]
fn parse_json(text: &str, what: &str) -> Result<serde_json::Value, ServerFnError> {
    serde_json::from_str(text).map_err(|_| ServerFnError::new(format!("the {what} is not valid")))
}

// ---- Printers ---------------------------------------------------------------------------------------

#[server]
pub async fn printer_rows() -> Result<Vec<PrinterRow>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.printers().await.map_err(ServerFnError::new)
}

#[server]
pub async fn printer_info(id: i64) -> Result<PrinterDetail, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    desk()?.printer(id).await.map_err(ServerFnError::new)
}

/// USB and network printers, as `GET /api/v1/printers/discover` finds them.
#[server]
pub async fn discover_printers() -> Result<Vec<FoundPrinter>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    desk()?.discover().await.map_err(ServerFnError::new)
}

#[server]
pub async fn test_printer_connection(driver: String, connection: String) -> Result<ConnectionTest, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    desk()?.test_connection(driver, connection).await.map_err(ServerFnError::new)
}

/// A printer to add, as the Printers page's forms fill it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPrinterForm {
    pub name: String,
    /// `marlin`, `octoprint` or `moonraker`.
    pub driver: String,
    /// The connection setting, as JSON.
    pub connection: String,
    pub build_mm: [f64; 3],
    pub nozzle_mm: f64,
    /// `marlin2`, `klipper` or `reprapfirmware`.
    pub firmware: String,
}

/// A printer's profile as the edit form changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileForm {
    pub id: i64,
    pub name: String,
    pub build_mm: [f64; 3],
    pub nozzle_mm: f64,
    /// Comma-separated groups.
    pub tags: String,
    pub enabled: bool,
}

/// Adds a printer (`POST /api/v1/printers`). Returns the new printer's id.
#[server(input = Json)]
pub async fn add_printer(printer: NewPrinterForm) -> Result<i64, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({
        "name": printer.name,
        "driver": printer.driver,
        "connection": parse_json(&printer.connection, "connection setting")?,
        "build_mm": printer.build_mm,
        "nozzle_mm": printer.nozzle_mm,
        "firmware": printer.firmware,
    });
    let text = rest("POST", "/api/v1/printers", Some(body)).await?;
    let v = parse_json(&text, "answer")?;
    v.get("id").and_then(|id| id.as_i64()).ok_or_else(|| ServerFnError::new("the printer was not added"))
}

/// Changes a printer's profile (`PATCH /api/v1/printers/{id}`).
#[server(input = Json)]
pub async fn update_printer(profile: ProfileForm) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let tags: Vec<String> =
        profile.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
    let body = serde_json::json!({
        "name": profile.name.trim(),
        "build_mm": profile.build_mm,
        "nozzle_mm": profile.nozzle_mm,
        "tags": tags,
        "enabled": profile.enabled,
    });
    rest("PATCH", &format!("/api/v1/printers/{}", profile.id), Some(body)).await.map(|_| ())
}

#[server]
pub async fn remove_printer(id: i64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    rest("DELETE", &format!("/api/v1/printers/{id}"), None).await.map(|_| ())
}

/// A manual command for a printer (see [`PrinterDesk::command`]).
#[server]
pub async fn printer_command(
    id: i64,
    action: String,
    axis: Option<String>,
    mm: Option<f64>,
) -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    desk()?.command(id, action, axis, mm).await.map_err(ServerFnError::new)
}

#[server]
pub async fn maintenance_done(task: i64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    rest("POST", &format!("/api/v1/maintenance/{task}/done"), None).await.map(|_| ())
}

#[server]
pub async fn add_maintenance(printer: i64, name: String, every_hours: f64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "name": name, "every_hours": every_hours });
    rest("POST", &format!("/api/v1/printers/{printer}/maintenance"), Some(body)).await.map(|_| ())
}

/// Puts a spool on a printer (`None` takes it off).
#[server]
pub async fn load_spool(printer: i64, spool: Option<i64>) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "spool_id": spool });
    rest("PUT", &format!("/api/v1/printers/{printer}/spool"), Some(body)).await.map(|_| ())
}

// ---- Materials and spools ---------------------------------------------------------------------------

/// A material as the Settings page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaterialView {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub density_g_cm3: f64,
    pub cost_per_kg: Option<f64>,
}

/// A spool as the Settings and Printer pages list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolView {
    pub id: i64,
    pub material_id: i64,
    pub material_kind: String,
    pub material_name: String,
    pub colour_name: String,
    pub initial_g: f64,
    pub remaining_g: f64,
    pub printer_id: Option<i64>,
}

impl SpoolView {
    /// "PLA · Red · 640 g left".
    pub fn label(&self) -> String {
        format!("{} · {} · {:.0} g left", self.material_kind, self.colour_name, self.remaining_g)
    }
}

#[server]
pub async fn list_materials() -> Result<Vec<MaterialView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    rest_json("/api/v1/materials").await
}

#[server]
pub async fn list_spools() -> Result<Vec<SpoolView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    rest_json("/api/v1/spools").await
}

#[server]
pub async fn add_material(name: String, kind: String, cost_per_kg: Option<f64>) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "name": name, "kind": kind, "cost_per_kg": cost_per_kg });
    rest("POST", "/api/v1/materials", Some(body)).await.map(|_| ())
}

#[server]
pub async fn add_spool(material_id: i64, colour_name: String, initial_g: f64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "material_id": material_id, "colour_name": colour_name, "initial_g": initial_g });
    rest("POST", "/api/v1/spools", Some(body)).await.map(|_| ())
}

/// Records what a spool weighs now (filament left, in grams).
#[server]
pub async fn weigh_spool(id: i64, remaining_g: f64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "remaining_g": remaining_g });
    rest("PATCH", &format!("/api/v1/spools/{id}"), Some(body)).await.map(|_| ())
}

// ---- Users, settings, windows, model packs ----------------------------------------------------------

#[server]
pub async fn list_users() -> Result<Vec<UserView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Teacher)?;
    desk()?.users().await.map_err(ServerFnError::new)
}

#[server]
pub async fn add_user(
    username: String,
    display_name: String,
    role: String,
    password: Option<String>,
    pin: Option<String>,
) -> Result<UserView, ServerFnError> {
    crate::auth::require(crate::auth::Role::Admin)?;
    desk()?
        .add_user(username, display_name, role, password.unwrap_or_default(), pin.unwrap_or_default())
        .await
        .map_err(ServerFnError::new)
}

/// The farm's settings as a JSON object (`GET /api/v1/farm/settings`).
#[server]
pub async fn farm_settings() -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    rest("GET", "/api/v1/farm/settings", None).await
}

/// Changes one farm setting (`PUT /api/v1/farm/settings`); `value` is JSON.
#[server]
pub async fn change_farm_setting(key: String, value: String) -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Admin)?;
    let value = parse_json(&value, "value")?;
    let mut body = serde_json::Map::new();
    body.insert(key, value);
    rest("PUT", "/api/v1/farm/settings", Some(serde_json::Value::Object(body))).await
}

/// A quiet-hours (or overnight, maintenance) window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowView {
    pub id: i64,
    pub kind: String,
    #[serde(default)]
    pub label: String,
    pub cron: String,
    pub duration_min: i64,
    #[serde(default)]
    pub printer_id: Option<i64>,
}

#[server]
pub async fn list_windows() -> Result<Vec<WindowView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Kiosk)?;
    rest_json("/api/v1/farm/windows").await
}

#[server]
pub async fn add_window(kind: String, label: String, cron: String, duration_min: i64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    let body = serde_json::json!({ "kind": kind, "label": label, "cron": cron, "duration_min": duration_min });
    rest("POST", "/api/v1/farm/windows", Some(body)).await.map(|_| ())
}

#[server]
pub async fn delete_window(id: i64) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    rest("DELETE", &format!("/api/v1/farm/windows/{id}"), None).await.map(|_| ())
}

#[server]
pub async fn list_model_packs() -> Result<Vec<ModelPackView>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Manager)?;
    desk()?.model_packs().await.map_err(ServerFnError::new)
}

#[server]
pub async fn model_pack_action(action: String, pack: Option<String>) -> Result<String, ServerFnError> {
    crate::auth::require(crate::auth::Role::Admin)?;
    desk()?.model_pack_action(action, pack).await.map_err(ServerFnError::new)
}

// ---- Library ----------------------------------------------------------------------------------------

#[server]
pub async fn library_models(search: String, gallery_only: bool) -> Result<Vec<LibraryModel>, ServerFnError> {
    crate::auth::require(crate::auth::Role::Maker)?;
    desk()?.library(search, gallery_only).await.map_err(ServerFnError::new)
}

#[server]
pub async fn set_gallery(model: i64, in_gallery: bool) -> Result<(), ServerFnError> {
    crate::auth::require(crate::auth::Role::Teacher)?;
    desk()?.set_gallery(model, in_gallery).await.map_err(ServerFnError::new)
}
