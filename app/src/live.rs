//! The live event stream. One WebSocket per browser tab feeds signals that every page reads, so
//! nothing needs a reload. It reconnects by itself with a growing back-off when the server restarts.

use std::collections::{HashMap, VecDeque};

use leptos::prelude::*;

use crate::wire::{FarmEvent, JobView, PrinterView, TempView};

/// Live farm state, provided at the app root.
#[derive(Clone, Copy)]
pub struct LiveFarm {
    /// `None` until the first snapshot arrives; pages fall back to their server-rendered data.
    pub printers: RwSignal<Option<Vec<PrinterView>>>,
    /// Whether the event stream is connected right now.
    pub connected: RwSignal<bool>,
    /// Counts job and queue events: pages showing jobs refetch when it changes.
    pub queue_changes: RwSignal<u64>,
    /// The latest view of every job an event mentioned since the page loaded.
    pub jobs: RwSignal<HashMap<i64, JobView>>,
    /// Recent temperatures per printer (the last [`TempHistory::SPAN_MS`]), for plots.
    pub temps: RwSignal<HashMap<i64, TempHistory>>,
}

/// One temperature reading of a printer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempSample {
    /// Milliseconds since the Unix epoch, as the browser saw the event.
    pub at_ms: f64,
    pub hotend: TempView,
    pub bed: TempView,
}

/// A printer's recent temperatures, oldest first, at most one sample a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TempHistory {
    pub samples: VecDeque<TempSample>,
}

impl TempHistory {
    /// How much history plots show: ten minutes.
    pub const SPAN_MS: f64 = 600_000.0;
    /// Readings closer together than this are folded into the previous one.
    const MIN_GAP_MS: f64 = 1_000.0;

    /// Adds a reading, dropping what is older than the span.
    pub fn push(&mut self, sample: TempSample) {
        match self.samples.back_mut() {
            Some(last) if sample.at_ms - last.at_ms < Self::MIN_GAP_MS => {
                // Keep the first time stamp so a burst of events cannot stall the plot's clock.
                last.hotend = sample.hotend;
                last.bed = sample.bed;
            }
            _ => self.samples.push_back(sample),
        }
        while self.samples.front().is_some_and(|s| sample.at_ms - s.at_ms > Self::SPAN_MS) {
            self.samples.pop_front();
        }
    }
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

impl LiveFarm {
    fn new() -> Self {
        Self {
            printers: RwSignal::new(None),
            connected: RwSignal::new(false),
            queue_changes: RwSignal::new(0),
            jobs: RwSignal::new(HashMap::new()),
            temps: RwSignal::new(HashMap::new()),
        }
    }

    fn record_temps(&self, printers: &[PrinterView]) {
        let at_ms = now_ms();
        self.temps.update(|all| {
            for p in printers {
                all.entry(p.id).or_default().push(TempSample { at_ms, hotend: p.hotend, bed: p.bed });
            }
        });
    }

    /// Folds one event into the state.
    pub fn apply(&self, event: FarmEvent) {
        match event {
            FarmEvent::Snapshot { printers } => {
                self.record_temps(&printers);
                self.printers.set(Some(printers));
                // A snapshot follows a reconnect: jobs may have moved while we were away.
                self.queue_changes.update(|n| *n += 1);
            }
            FarmEvent::Printer { printer } => self.printers.update(|list| {
                self.record_temps(std::slice::from_ref(&printer));
                let list = list.get_or_insert_with(Vec::new);
                match list.iter_mut().find(|p| p.id == printer.id) {
                    Some(slot) => *slot = printer,
                    None => {
                        list.push(printer);
                        list.sort_by(|a, b| a.name.cmp(&b.name));
                    }
                }
            }),
            FarmEvent::Job { job } => {
                self.jobs.update(|jobs| {
                    jobs.insert(job.id, job);
                });
                self.queue_changes.update(|n| *n += 1);
            }
            FarmEvent::Queue => self.queue_changes.update(|n| *n += 1),
            FarmEvent::Notification { .. } => {}
        }
    }
}

/// Creates the live state and, in the browser, starts the event stream.
pub fn provide_live_farm() -> LiveFarm {
    let live = LiveFarm::new();
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
            let live = LiveFarm::new();
            live.apply(FarmEvent::Printer { printer: printer(2, "Bravo", PrinterStateView::Idle) });
            live.apply(FarmEvent::Printer { printer: printer(1, "Alpha", PrinterStateView::Idle) });
            live.apply(FarmEvent::Printer { printer: printer(2, "Bravo", PrinterStateView::Printing) });
            let list = live.printers.get_untracked().unwrap();
            assert_eq!(list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Alpha", "Bravo"]);
            assert_eq!(list[1].state, PrinterStateView::Printing);
            live.apply(FarmEvent::Snapshot { printers: vec![] });
            assert_eq!(live.printers.get_untracked(), Some(vec![]));
            assert_eq!(live.temps.get_untracked()[&2].samples.len(), 1, "readings within a second fold together");
        });
    }

    #[test]
    fn temperature_history_keeps_ten_minutes_one_sample_a_second() {
        let mut h = TempHistory::default();
        let t = |c: f32| TempView { actual: c, target: 200.0 };
        for i in 0..2000 {
            h.push(TempSample { at_ms: i as f64 * 500.0, hotend: t(i as f32), bed: t(0.0) });
        }
        // 2000 readings 0.5 s apart = 1000 s; one a second kept, the last 600 s of them.
        assert!((600..=602).contains(&h.samples.len()), "{}", h.samples.len());
        assert_eq!(h.samples.back().unwrap().hotend.actual, 1999.0, "the newest reading wins within a second");
        assert!(h.samples.back().unwrap().at_ms - h.samples.front().unwrap().at_ms <= TempHistory::SPAN_MS);
    }

    #[test]
    fn job_events_bump_the_queue_counter() {
        let owner = Owner::new();
        owner.with(|| {
            let live = LiveFarm::new();
            live.apply(FarmEvent::Queue);
            let job = JobView {
                id: 7,
                name: "tag".into(),
                owner_id: None,
                state: "queued".into(),
                printer_id: None,
                progress: None,
                material_kind: None,
                colour: None,
                estimate_s: None,
                filament_g: None,
                attempts: 0,
                error: None,
            };
            live.apply(FarmEvent::Job { job });
            assert_eq!(live.queue_changes.get_untracked(), 2);
            assert_eq!(live.jobs.get_untracked()[&7].state, "queued");
        });
    }
}
