use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

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

/// The farm at a glance: every printer, live. `?wall=1` is the big-screen mode for a wall display
/// (no navigation, larger tiles), `?group=room%202` shows one printer group.
#[component]
pub fn FarmPage() -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let initial = Resource::new(|| (), |_| farm_snapshot());
    let filter = RwSignal::new(StateFilter::All);
    let query = use_query_map();
    let wall = move || query.read().get("wall").is_some_and(|w| w == "1");
    let group = RwSignal::new(query.read_untracked().get("group"));

    view! {
        <section class="page farm" class:wall=wall data-testid="farm">
            <header class="farm-head">
                <h1>"Farm"</h1>
                {move || if wall() {
                    view! { <a class="button subtle" href="/" data-testid="wall-exit">"Exit wall display"</a> }.into_any()
                } else {
                    view! { <a class="button subtle" href="/?wall=1" data-testid="wall-enter">"Wall display"</a> }.into_any()
                }}
            </header>
            <Suspense fallback=|| view! { <p class="muted">"Loading printers…"</p> }>
                {move || {
                    // The live stream wins once it has spoken; until then, the server-rendered list.
                    let printers = live.printers.get().or_else(|| initial.get().and_then(Result::ok));
                    printers.map(|printers| view! { <FarmGrid printers filter group/> })
                }}
            </Suspense>
        </section>
    }
}

/// The printer groups (tags) in use, sorted.
fn groups_of(printers: &[PrinterView]) -> Vec<String> {
    let mut groups: Vec<String> = printers.iter().flat_map(|p| p.tags.iter().cloned()).collect();
    groups.sort();
    groups.dedup();
    groups
}

#[component]
fn FarmGrid(
    printers: Vec<PrinterView>,
    filter: RwSignal<StateFilter>,
    group: RwSignal<Option<String>>,
) -> impl IntoView {
    if printers.is_empty() {
        return view! {
            <p class="empty">"No printers yet. Add one on the Printers page, or plug one in by USB."</p>
        }
        .into_any();
    }
    let groups = groups_of(&printers);
    // A group that no longer exists (renamed, printers moved) shows everything rather than nothing.
    if group.get_untracked().is_some_and(|g| !groups.contains(&g)) {
        group.set(None);
    }
    let in_group = move |p: &PrinterView| group.with(|g| g.as_ref().is_none_or(|g| p.tags.contains(g)));
    let group_chips = (!groups.is_empty()).then(|| {
        let mut options = vec![(None, "All groups".to_string())];
        options.extend(groups.into_iter().map(|g| (Some(g.clone()), g)));
        let chips = options
            .into_iter()
            .map(|(value, label)| {
                let selected = {
                    let value = value.clone();
                    move || group.with(|g| *g == value)
                };
                let selected2 = selected.clone();
                view! {
                    <button
                        class="chip"
                        class:selected=selected
                        aria-pressed=move || selected2().to_string()
                        data-testid="group-chip"
                        on:click=move |_| group.set(value.clone())
                    >
                        {label}
                    </button>
                }
            })
            .collect_view();
        view! { <div class="chips groups" role="toolbar" aria-label="Show one printer group">{chips}</div> }
    });
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
        {group_chips}
        <div class="chips" role="toolbar" aria-label="Filter printers by state">{chip_views}</div>
        <div class="printer-grid" data-testid="printer-grid">
            {move || {
                let f = filter.get();
                printers
                    .iter()
                    .filter(|p| f.admits(p) && in_group(p))
                    .cloned()
                    .map(|printer| view! { <PrinterCard printer/> })
                    .collect_view()
            }}
        </div>
    }
    .into_any()
}
