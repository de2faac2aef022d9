//! Notifications: stored for the app, sent on the live event stream, and posted as JSON to the farm's
//! webhook (`webhook_url` in the farm settings) so chat tools can relay them.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use app::wire::{FarmEvent, NotificationView};
use serde_json::json;

use super::Farm;
use crate::db::{Db, NewNotification, Notification};

/// Sends notifications; holds the HTTP client for the webhook.
pub struct Notifier {
    db: Db,
    http: reqwest::Client,
    /// Maintenance tasks already announced (until they are done), so reminders do not repeat hourly.
    announced: Mutex<HashSet<i64>>,
}

impl Notifier {
    pub(crate) fn new(db: Db) -> Self {
        // Redirects are not followed: a webhook that answers "go to 127.0.0.1" would otherwise send the
        // farm's notifications (and make the box reach) where the reach rules do not allow.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { db, http, announced: Mutex::new(HashSet::new()) }
    }

    /// Stores a notification, shows it to every open browser and posts it to the webhook.
    pub(crate) async fn send(&self, farm: &Farm, n: NewNotification) {
        let stored = match self.db.farm().notify(&n).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!("cannot store a notification ({}): {e}", n.message);
                return;
            }
        };
        farm.broadcast(FarmEvent::Notification { notification: view(&stored) });
        let url = match self.db.farm().settings().await {
            Ok(s) => s.get("webhook_url").and_then(|v| v.as_str()).map(str::to_string),
            Err(_) => None,
        };
        if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
            // Checked at every send too: the name may resolve elsewhere now, or the setting predate the rule.
            if let Err(e) = farm.reach().check_url(&url).await {
                tracing::warn!("webhook not sent: {e}");
                return;
            }
            let http = self.http.clone();
            let body = json!({
                "event": stored.kind,
                "severity": stored.severity,
                "text": stored.message,
                "job_id": stored.job_id,
                "printer_id": stored.printer_id,
                "at": stored.at,
                "source": "printfarm",
            });
            farm.spawn(async move {
                // One retry: a chat relay restarting should not lose the message, a dead one should not pile up work.
                for attempt in 0..2 {
                    match http.post(&url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => return,
                        Ok(r) => tracing::warn!(status = %r.status(), "webhook refused a notification"),
                        Err(e) => tracing::warn!("webhook unreachable: {e}"),
                    }
                    if attempt == 0 {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            });
        }
    }
}

pub(crate) fn view(n: &Notification) -> NotificationView {
    NotificationView {
        id: n.id,
        at: n.at.clone(),
        kind: n.kind.clone(),
        severity: n.severity.clone(),
        message: n.message.clone(),
        job_id: n.job_id,
        printer_id: n.printer_id,
        user_id: n.user_id,
    }
}

/// Announces maintenance tasks that came due (print hours since last done ≥ their interval).
pub(crate) async fn check_maintenance(farm: &Farm) {
    let db = farm.db();
    let Ok(tasks) = db.farm().maintenance(None).await else { return };
    for task in tasks {
        let Ok(hours) = db.farm().print_hours(task.printer_id).await else { continue };
        let due = hours - task.done_at_hours >= task.every_hours;
        let first = {
            let mut announced = farm.notifier().announced.lock().expect("announced lock");
            if due {
                announced.insert(task.id)
            } else {
                announced.remove(&task.id);
                false
            }
        };
        if due && first {
            let name = db.printers().get(task.printer_id).await.map(|p| p.name).unwrap_or_default();
            farm.notifier()
                .send(
                    farm,
                    NewNotification {
                        kind: "maintenance_due",
                        severity: "warning",
                        message: format!(
                            "{name} is due for \"{}\" ({:.0} print hours since it was last done; every {:.0} h).",
                            task.name,
                            hours - task.done_at_hours,
                            task.every_hours
                        ),
                        printer_id: Some(task.printer_id),
                        ..Default::default()
                    },
                )
                .await;
        }
    }
}
