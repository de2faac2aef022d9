//! The live event stream. One WebSocket per browser tab feeds signals that every page reads, so
//! nothing needs a reload. It reconnects by itself with a growing back-off when the server restarts.

use leptos::prelude::*;

use crate::wire::{FarmEvent, PrinterView};

/// Live farm state, provided at the app root.
#[derive(Clone, Copy)]
pub struct LiveFarm {
    /// `None` until the first snapshot arrives; pages fall back to their server-rendered data.
    pub printers: RwSignal<Option<Vec<PrinterView>>>,
    /// Whether the event stream is connected right now.
    pub connected: RwSignal<bool>,
}

impl LiveFarm {
    /// Folds one event into the state.
    pub fn apply(&self, event: FarmEvent) {
        match event {
            FarmEvent::Snapshot { printers } => self.printers.set(Some(printers)),
            FarmEvent::Printer { printer } => self.printers.update(|list| {
                let list = list.get_or_insert_with(Vec::new);
                match list.iter_mut().find(|p| p.id == printer.id) {
                    Some(slot) => *slot = printer,
                    None => {
                        list.push(printer);
                        list.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                }
            }),
            // The farm page shows printers; the queue and notification pages fold these in themselves.
            FarmEvent::Job { .. } | FarmEvent::Queue | FarmEvent::Notification { .. } => {}
        }
    }
}

/// Creates the live state and, in the browser, starts the event stream.
pub fn provide_live_farm() -> LiveFarm {
    let live = LiveFarm { printers: RwSignal::new(None), connected: RwSignal::new(false) };
    provide_context(live);
    // Effects never run during server rendering, so the socket opens only in the browser.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        socket::connect(live, 0);
    });
    live
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{MessageEvent, WebSocket};

    use super::LiveFarm;
    use crate::wire::FarmEvent;

    /// The stream's address on the same host as the page, ws or wss to match http or https.
    fn events_url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        Some(format!("{scheme}://{}/api/v1/events", location.host().ok()?))
    }

    pub fn connect(live: LiveFarm, attempt: u32) {
        let Some(url) = events_url() else { return };
        let Ok(ws) = WebSocket::new(&url) else {
            retry(live, attempt);
            return;
        };
        let on_open = Closure::<dyn FnMut()>::new(move || live.connected.set(true));
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let Some(text) = e.data().as_string() else {
                return;
            };
            match serde_json::from_str::<FarmEvent>(&text) {
                Ok(event) => live.apply(event),
                Err(err) => {
                    leptos::logging::warn!("ignoring an event the app does not understand: {err}")
                }
            }
        });
        let on_close = Closure::<dyn FnMut()>::new(move || {
            let was_connected = live.connected.get_untracked();
            live.connected.set(false);
            retry(live, if was_connected { 0 } else { attempt + 1 });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // The socket owns its handlers for the rest of the page's life; one small set per connection.
        on_open.forget();
        on_message.forget();
        on_close.forget();
    }

    fn retry(live: LiveFarm, attempt: u32) {
        let delay = Duration::from_millis((500u64 << attempt.min(5)).min(10_000));
        set_timeout(move || connect(live, attempt), delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{PrinterStateView, TempView};

    fn printer(id: i64, name: &str, state: PrinterStateView) -> PrinterView {
        PrinterView {
            id,
            name: name.into(),
            driver: "simulated".into(),
            tags: vec![],
            state,
            hotend: TempView::default(),
            bed: TempView::default(),
            progress: None,
            current_layer: None,
            total_layers: None,
            file: None,
            remaining_s: None,
            message: None,
            bed_clear: true,
            enabled: true,
            maintenance: false,
            job_id: None,
            job_name: None,
            material: None,
        }
    }

    #[test]
    fn events_update_and_insert_in_name_order() {
        let owner = Owner::new();
        owner.with(|| {
            let live = LiveFarm { printers: RwSignal::new(None), connected: RwSignal::new(false) };
            live.apply(FarmEvent::Printer { printer: printer(2, "Bravo", PrinterStateView::Idle) });
            live.apply(FarmEvent::Printer { printer: printer(1, "Alpha", PrinterStateView::Idle) });
            live.apply(FarmEvent::Printer { printer: printer(2, "Bravo", PrinterStateView::Printing) });
            let list = live.printers.get_untracked().unwrap();
            assert_eq!(list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Alpha", "Bravo"]);
            assert_eq!(list[1].state, PrinterStateView::Printing);
            live.apply(FarmEvent::Snapshot { printers: vec![] });
            assert_eq!(live.printers.get_untracked(), Some(vec![]));
        });
    }
}
