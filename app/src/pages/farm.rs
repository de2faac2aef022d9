use leptos::prelude::*;

use crate::api::farm_snapshot;
use crate::components::printer_card::PrinterCard;
use crate::live::LiveFarm;
use crate::wire::{PrinterStateView, PrinterView};

/// Which printers the grid shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateFilter {
    All,
    Only(PrinterStateView),
}

impl StateFilter {
    fn admits(self, p: &PrinterView) -> bool {
        match self {
            Self::All => true,
            Self::Only(s) => p.state == s,
        }
    }
}

/// The farm at a glance: every printer, live.
#[component]
pub fn FarmPage() -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let initial = Resource::new(|| (), |_| farm_snapshot());
    let filter = RwSignal::new(StateFilter::All);

    view! {
        <section class="page farm">
            <h1>"Farm"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading printers…"</p> }>
                {move || {
                    // The live stream wins once it has spoken; until then, the server-rendered list.
                    let printers = live.printers.get().or_else(|| initial.get().and_then(Result::ok));
                    printers.map(|printers| view! { <FarmGrid printers filter/> })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn FarmGrid(printers: Vec<PrinterView>, filter: RwSignal<StateFilter>) -> impl IntoView {
    if printers.is_empty() {
        return view! {
            <p class="empty">"No printers yet. Add one on the Printers page, or plug one in by USB."</p>
        }
        .into_any();
    }
    let count = |f: StateFilter| printers.iter().filter(|p| f.admits(p)).count();
    let mut chips = vec![(StateFilter::All, "All", count(StateFilter::All))];
    chips.extend(PrinterStateView::ALL.into_iter().filter_map(|s| {
        let n = count(StateFilter::Only(s));
        (n > 0).then(|| (StateFilter::Only(s), s.label(), n))
    }));
    // A filter whose printers all moved on falls back to showing everything.
    if !chips.iter().any(|(f, _, _)| *f == filter.get_untracked()) {
        filter.set(StateFilter::All);
    }
    let chip_views = chips
        .into_iter()
        .map(|(f, label, n)| {
            view! {
                <button
                    class="chip"
                    class:selected=move || filter.get() == f
                    aria-pressed=move || (filter.get() == f).to_string()
                    data-testid="filter-chip"
                    on:click=move |_| filter.set(f)
                >
                    {label}
                    <span class="count">{n}</span>
                </button>
            }
        })
        .collect_view();
    view! {
        <div class="chips" role="toolbar" aria-label="Filter printers by state">{chip_views}</div>
        <div class="printer-grid" data-testid="printer-grid">
            {move || {
                let f = filter.get();
                printers
                    .iter()
                    .filter(|p| f.admits(p))
                    .cloned()
                    .map(|printer| view! { <PrinterCard printer/> })
                    .collect_view()
            }}
        </div>
    }
    .into_any()
}
