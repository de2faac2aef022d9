//! Queue: every job with owner, material, estimated start and finish; reorder, approve, cancel, reprint.

use leptos::prelude::*;

use crate::api::queue::{error_text, job_act, load_queue, place_job, print_again, QueueJob, QueueSnapshot};
use crate::live::LiveFarm;

/// What people read on the Queue page (and the job actions the Job page shares). Kept together for translation.
pub mod text {
    pub const TITLE: &str = "Queue";
    pub const LOADING: &str = "Loading the queue…";
    pub const EMPTY: &str = "No jobs here. Send something to print from Create or the Library.";
    pub const NONE_MATCH: &str = "No jobs match these filters.";
    pub const RUNNING: &str = "Printing now";
    pub const WAITING: &str = "Waiting";
    pub const FINISHED: &str = "Finished recently";
    pub const TIMELINE: &str = "Timeline";
    pub const TIMELINE_EMPTY: &str = "Nothing is printing or planned right now.";
    pub const ALL_PRINTERS: &str = "All printers";
    pub const SEARCH_OWNER: &str = "Search by person";
    pub const NOBODY: &str = "no owner";
    pub const APPROVE: &str = "Approve";
    pub const REJECT: &str = "Reject";
    pub const CANCEL: &str = "Cancel";
    pub const CONFIRM_CANCEL: &str = "Yes, cancel it";
    pub const KEEP: &str = "Keep it";
    pub const RETRY: &str = "Try again";
    pub const AGAIN: &str = "Print again";
    pub const PAUSE: &str = "Pause";
    pub const RESUME: &str = "Resume";
    pub const UP: &str = "Move up";
    pub const DOWN: &str = "Move down";
    pub const DRAG: &str = "Drag to move this job";
    pub const NOT_SLICED: &str = "(guess until it is sliced)";
    pub const NEW_JOB: &str = "A new job is in the queue:";
}

// ---- Time in words --------------------------------------------------------------------------------

/// Civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A length of time: "2 h 10 min", "25 min", "less than a minute".
pub fn span_words(seconds: i64) -> String {
    let minutes = (seconds.max(0) + 30) / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "less than a minute".into(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A moment as a day and a clock time in the farm's time zone: "today 14:05", "tomorrow 09:30",
/// "yesterday 17:00", "3 Dec 08:15".
pub fn clock_words(t: i64, now: i64, utc_offset_min: i32) -> String {
    let off = i64::from(utc_offset_min) * 60;
    let (local, today) = (t + off, now + off);
    let (day, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let clock = format!("{:02}:{:02}", secs / 3600, secs / 60 % 60);
    match day - today.div_euclid(86_400) {
        0 => format!("today {clock}"),
        1 => format!("tomorrow {clock}"),
        -1 => format!("yesterday {clock}"),
        _ => {
            let (_, m, d) = civil(day);
            format!("{d} {} {clock}", MONTHS[(m - 1) as usize])
        }
    }
}

/// When something will happen: "now", "in 25 min", "in 2 h 10 min" within three hours, then the clock.
pub fn when_words(t: i64, now: i64, utc_offset_min: i32) -> String {
    let ahead = t - now;
    if ahead <= 30 {
        "now".into()
    } else if ahead < 3 * 3600 {
        format!("in {}", span_words(ahead))
    } else {
        clock_words(t, now, utc_offset_min)
    }
}

/// A job's state as a short label.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "submitted" => "Sent",
        "awaiting_approval" => "Needs approval",
        "queued" => "Waiting",
        "slicing" => "Preparing",
        "ready" => "Ready",
        "assigned" => "Starting",
        "printing" => "Printing",
        "paused" => "Paused",
        "done" => "Finished",
        "failed" => "Failed",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// "PLA · Red", "any material".
pub fn material_words(job: &QueueJob) -> String {
    match (&job.material_kind, &job.colour) {
        (Some(m), Some(c)) => format!("{m} · {c}"),
        (Some(m), None) => m.clone(),
        (None, Some(c)) => format!("any material · {c}"),
        (None, None) => "any material".into(),
    }
}

// ---- Ordering helpers -----------------------------------------------------------------------------

/// The neighbours a job gets when moved one step up or down in `order` (ids in service order):
/// `(after, before)`, or `None` when it is already at that end.
pub fn step_neighbours(order: &[i64], id: i64, up: bool) -> Option<(Option<i64>, Option<i64>)> {
    let i = order.iter().position(|&x| x == id)?;
    if up {
        let target = i.checked_sub(1)?;
        Some((target.checked_sub(1).map(|k| order[k]), Some(order[target])))
    } else {
        let target = *order.get(i + 1)?;
        Some((Some(target), order.get(i + 2).copied()))
    }
}

/// Where a dragged row lands: `others` are the other rows (id, vertical middle) top to bottom; `y` is
/// where it was let go. Returns `(after, before)`.
pub fn drop_neighbours(others: &[(i64, f64)], y: f64) -> (Option<i64>, Option<i64>) {
    let k = others.iter().take_while(|(_, mid)| *mid < y).count();
    (k.checked_sub(1).map(|i| others[i].0), others.get(k).map(|o| o.0))
}

/// Which rows the filters keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateGroup {
    All,
    Approval,
    Waiting,
    Running,
    Done,
    Problem,
}

impl StateGroup {
    const ALL: [StateGroup; 6] = [Self::All, Self::Approval, Self::Waiting, Self::Running, Self::Done, Self::Problem];

    fn label(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Approval => "Needs approval",
            Self::Waiting => "Waiting",
            Self::Running => "Printing",
            Self::Done => "Finished",
            Self::Problem => "Failed or cancelled",
        }
    }

    pub fn admits(self, j: &QueueJob) -> bool {
        match self {
            Self::All => true,
            Self::Approval => j.state == "awaiting_approval",
            Self::Waiting => j.is_waiting() && j.state != "awaiting_approval",
            Self::Running => j.is_running(),
            Self::Done => j.state == "done",
            Self::Problem => matches!(j.state.as_str(), "failed" | "cancelled"),
        }
    }
}

/// The filters the page applies, all at once.
pub fn filtered<'a>(
    jobs: &'a [QueueJob],
    group: StateGroup,
    printer: Option<i64>,
    who: &str,
) -> impl Iterator<Item = &'a QueueJob> + 'a {
    let who = who.trim().to_lowercase();
    jobs.iter().filter(move |j| {
        group.admits(j)
            && printer.is_none_or(|p| j.printer_id == Some(p))
            && (who.is_empty() || j.owner.as_deref().unwrap_or(text::NOBODY).to_lowercase().contains(&who))
    })
}

// ---- Live refresh ---------------------------------------------------------------------------------

/// Follows the live job and queue events, at most one refresh every 400 ms however many arrive.
pub fn settled_changes(live: LiveFarm) -> RwSignal<u64> {
    let out = RwSignal::new(0u64);
    let pending = StoredValue::new(false);
    Effect::new(move |_| {
        if live.queue_changes.get() == 0 || pending.get_value() {
            return;
        }
        pending.set_value(true);
        set_timeout(
            move || {
                pending.set_value(false);
                out.set(live.queue_changes.get_untracked());
            },
            std::time::Duration::from_millis(400),
        );
    });
    out
}

/// The job whose "Cancel this job?" question is open, shared by the page so that a redrawn row still
/// shows it, and so the live refresh waits while it is open.
#[derive(Clone, Copy)]
pub struct OpenQuestion(pub RwSignal<Option<i64>>);

impl OpenQuestion {
    /// Makes one for this page and shares it with the rows below.
    pub fn provide() -> Self {
        let open = Self(RwSignal::new(None));
        provide_context(open);
        open
    }
}

/// A message shown after an action: what happened, or why it could not.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub error: bool,
    pub text: String,
    /// A job to link to (the new one after "Print again").
    pub job: Option<i64>,
}

#[component]
pub fn NoticeBar(notice: RwSignal<Option<Notice>>) -> impl IntoView {
    move || {
        notice.get().map(|n| {
            view! {
                <p
                    class="notice"
                    class:error=n.error
                    role=if n.error { "alert" } else { "status" }
                    data-testid="queue-notice"
                >
                    {n.text}
                    {n.job.map(|id| view! { " " <a href=format!("/jobs/{id}")>{format!("Job {id}")}</a> })}
                </p>
            }
        })
    }
}

/// The buttons a job allows, by its state. `order` (ids of waiting jobs in service order) adds the
/// move buttons; `refresh` runs after an action so the page shows the result at once.
#[component]
pub fn JobButtons(
    job: QueueJob,
    notice: RwSignal<Option<Notice>>,
    #[prop(optional)] order: Option<Vec<i64>>,
    #[prop(into)] refresh: Callback<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let id = job.id;
    let question = use_context::<OpenQuestion>().map_or_else(|| RwSignal::new(None), |q| q.0);
    let confirming = move || question.get() == Some(id);
    let close = move || {
        if question.get_untracked() == Some(id) {
            question.set(None);
        }
    };
    let run = move |action: &'static str| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = job_act(id, action.to_string()).await;
            busy.set(false);
            close();
            match result {
                Ok(m) => notice.set(Some(Notice { error: false, text: m, job: None })),
                Err(e) => notice.set(Some(Notice { error: true, text: error_text(e), job: None })),
            }
            refresh.run(None);
        });
    };
    let again = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = print_again(id).await;
            busy.set(false);
            match result {
                Ok(new) => notice.set(Some(Notice { error: false, text: text::NEW_JOB.into(), job: Some(new) })),
                Err(e) => notice.set(Some(Notice { error: true, text: error_text(e), job: None })),
            }
            refresh.run(None);
        });
    };
    let step = move |up: bool, neighbours: Option<(Option<i64>, Option<i64>)>| {
        let Some((after, before)) = neighbours else { return };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = place_job(id, after, before).await;
            busy.set(false);
            match result {
                Ok(m) => notice.set(Some(Notice { error: false, text: m, job: None })),
                Err(e) => notice.set(Some(Notice { error: true, text: error_text(e), job: None })),
            }
            let which = if up { "up" } else { "down" };
            refresh.run(Some(format!("[data-job-id=\"{id}\"] [data-action=\"{which}\"]")));
        });
    };
    let state = job.state.clone();
    let waiting = job.is_waiting();
    let moves = order.filter(|_| waiting).map(|order| {
        let up = step_neighbours(&order, id, true);
        let down = step_neighbours(&order, id, false);
        let (can_up, can_down) = (up.is_some(), down.is_some());
        view! {
            <button
                class="icon-button"
                data-action="up"
                aria-label=text::UP
                title=text::UP
                disabled=move || busy.get() || !can_up
                on:click=move |_| step(true, up)
            >
                "▲"
            </button>
            <button
                class="icon-button"
                data-action="down"
                aria-label=text::DOWN
                title=text::DOWN
                disabled=move || busy.get() || !can_down
                on:click=move |_| step(false, down)
            >
                "▼"
            </button>
        }
    });
    let approval = (state == "awaiting_approval").then(|| {
        view! {
            <button class="act primary" data-action="approve" disabled=move || busy.get() on:click=move |_| run("approve")>
                {text::APPROVE}
            </button>
            <button class="act" data-action="reject" disabled=move || busy.get() on:click=move |_| run("reject")>
                {text::REJECT}
            </button>
        }
    });
    let pause = match state.as_str() {
        "printing" => Some(("pause", text::PAUSE)),
        "paused" => Some(("resume", text::RESUME)),
        _ => None,
    }
    .map(|(action, label)| {
        view! {
            <button class="act" data-action=action disabled=move || busy.get() on:click=move |_| run(action)>
                {label}
            </button>
        }
    });
    let retry = (state == "failed").then(|| {
        view! {
            <button class="act" data-action="retry" disabled=move || busy.get() on:click=move |_| run("retry")>
                {text::RETRY}
            </button>
        }
    });
    let cancel = (!job.is_finished()).then(|| {
        view! {
            <Show
                when=confirming
                fallback=move || {
                    view! {
                        <button class="act danger" data-action="cancel" disabled=move || busy.get() on:click=move |_| question.set(Some(id))>
                            {text::CANCEL}
                        </button>
                    }
                }
            >
                <button class="act danger" data-action="confirm-cancel" disabled=move || busy.get() on:click=move |_| run("cancel")>
                    {text::CONFIRM_CANCEL}
                </button>
                <button class="act" data-action="keep" on:click=move |_| close()>
                    {text::KEEP}
                </button>
            </Show>
        }
    });
    view! {
        <div class="job-buttons">
            {moves}
            {approval}
            {pause}
            {retry}
            {cancel}
            <button class="act" data-action="again" disabled=move || busy.get() on:click=again>
                {text::AGAIN}
            </button>
        </div>
    }
    .into_any()
}

// ---- The page -------------------------------------------------------------------------------------

/// A row being dragged: which, where the pointer started and is, and the other rows' middles.
#[derive(Debug, Clone, PartialEq)]
struct Drag {
    id: i64,
    start_y: f64,
    y: f64,
    others: Vec<(i64, f64)>,
    /// Its neighbours before the drag, so letting go in place does nothing.
    was: (Option<i64>, Option<i64>),
}

#[component]
pub fn QueuePage() -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let changes = settled_changes(live);
    let drag = RwSignal::new(None::<Drag>);
    let question = OpenQuestion::provide();
    // While a row is dragged, or someone is answering "cancel this job?", the list holds still whatever
    // arrives (redrawing would take the button from under their finger); afterwards it catches up.
    let key = Memo::new(move |prev: Option<&u64>| {
        let now = changes.get();
        let holding = question.0.with(Option::is_some);
        match prev {
            Some(prev) if holding || drag.with_untracked(Option::is_some) => *prev,
            _ => now,
        }
    });
    let data = Resource::new(move || key.get(), |_| load_queue());
    let group = RwSignal::new(StateGroup::All);
    let printer = RwSignal::new(None::<i64>);
    let who = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<Notice>);
    // The list is redrawn whenever the farm changes; the keyboard focus goes back to the same control.
    let focused = StoredValue::new(None::<String>);
    let refresh = Callback::new(move |focus: Option<String>| {
        if focus.is_some() {
            focused.set_value(focus);
        }
        data.refetch();
    });
    Effect::new(move |_| {
        data.track();
        if let Some(selector) = focused.get_value() {
            refocus(selector);
        }
    });

    view! {
        <section class="page queue" on:focusin=move |ev| focused.set_value(focus_selector(&ev))>
            <h1>{text::TITLE}</h1>
            <div class="queue-filters">
                <div class="chips" role="toolbar" aria-label="Show jobs by state">
                    {StateGroup::ALL
                        .into_iter()
                        .map(|g| {
                            view! {
                                <button
                                    class="chip"
                                    class:selected=move || group.get() == g
                                    aria-pressed=move || (group.get() == g).to_string()
                                    data-testid="state-filter"
                                    on:click=move |_| group.set(g)
                                >
                                    {g.label()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <label class="field">
                    <span class="sr-only">{text::SEARCH_OWNER}</span>
                    <input
                        type="search"
                        data-testid="owner-filter"
                        placeholder=text::SEARCH_OWNER
                        prop:value=move || who.get()
                        on:input=move |ev| who.set(event_target_value(&ev))
                    />
                </label>
            </div>
            <NoticeBar notice/>
            <Transition fallback=|| view! { <p class="muted">{text::LOADING}</p> }>
                {move || {
                    let snap = data.get()?;
                    printer.track();
                    Some(match snap {
                        Err(e) => view! { <p class="notice error" role="alert">{error_text(e)}</p> }.into_any(),
                        Ok(snap) => {
                            view! {
                                <QueueBody snap group=group.get() printer who=who.get() notice drag refresh/>
                            }
                                .into_any()
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn QueueBody(
    snap: QueueSnapshot,
    group: StateGroup,
    printer: RwSignal<Option<i64>>,
    who: String,
    notice: RwSignal<Option<Notice>>,
    drag: RwSignal<Option<Drag>>,
    refresh: Callback<Option<String>>,
) -> impl IntoView {
    // The printer filter lists the farm's printers, so it is drawn with the data (and hydrates with it).
    let chosen = printer.get_untracked();
    let options = snap
        .printers
        .iter()
        .map(|p| {
            view! { <option value=p.id.to_string() selected=chosen == Some(p.id)>{p.name.clone()}</option> }
        })
        .collect_view();
    let picker = view! {
        <label class="field printer-filter">
            <span class="sr-only">{text::ALL_PRINTERS}</span>
            <select data-testid="printer-filter" on:change=move |ev| printer.set(event_target_value(&ev).parse().ok())>
                <option value="" selected=chosen.is_none()>{text::ALL_PRINTERS}</option>
                {options}
            </select>
        </label>
    };
    if snap.jobs.is_empty() {
        return view! {
            {picker}
            <Timeline snap=snap.clone()/>
            <p class="empty">{text::EMPTY}</p>
        }
        .into_any();
    }
    let printer = chosen;
    let order: Vec<i64> = snap.jobs.iter().filter(|j| j.is_waiting()).map(|j| j.id).collect();
    let shown: Vec<QueueJob> = filtered(&snap.jobs, group, printer, &who).cloned().collect();
    let visible_waiting: Vec<i64> = shown.iter().filter(|j| j.is_waiting()).map(|j| j.id).collect();
    let section = |title: &'static str, key: &'static str, jobs: Vec<QueueJob>| {
        if jobs.is_empty() {
            return None;
        }
        let rows = jobs
            .into_iter()
            .map(|job| {
                let order = job.is_waiting().then(|| order.clone());
                view! {
                    <QueueRow
                        job
                        now=snap.now_s
                        offset=snap.utc_offset_min
                        order
                        visible=visible_waiting.clone()
                        notice
                        drag
                        refresh
                    />
                }
            })
            .collect_view();
        Some(view! {
            <h2 class="queue-section">{title}</h2>
            <ol class="queue-list" data-testid=format!("queue-{key}")>{rows}</ol>
        })
    };
    let running: Vec<QueueJob> = shown.iter().filter(|j| j.is_running()).cloned().collect();
    let waiting: Vec<QueueJob> = shown.iter().filter(|j| j.is_waiting()).cloned().collect();
    let finished: Vec<QueueJob> = shown.iter().filter(|j| j.is_finished()).cloned().collect();
    let nothing = shown.is_empty().then(|| view! { <p class="empty">{text::NONE_MATCH}</p> });
    view! {
        {picker}
        <Timeline snap=snap.clone()/>
        {nothing}
        {section(text::RUNNING, "running", running)}
        {section(text::WAITING, "waiting", waiting)}
        {section(text::FINISHED, "finished", finished)}
    }
    .into_any()
}

#[component]
fn QueueRow(
    job: QueueJob,
    now: i64,
    offset: i32,
    order: Option<Vec<i64>>,
    visible: Vec<i64>,
    notice: RwSignal<Option<Notice>>,
    drag: RwSignal<Option<Drag>>,
    refresh: Callback<Option<String>>,
) -> impl IntoView {
    let id = job.id;
    let waiting = job.is_waiting();
    let times = if job.is_finished() {
        job.finish_s.map(|f| format!("Ended {}", clock_words(f, now, offset)))
    } else {
        let start = match (job.is_running(), job.start_s) {
            (true, Some(s)) => Some(format!("Started {}", clock_words(s, now, offset))),
            (false, Some(s)) => Some(format!("Starts {}", when_words(s, now, offset))),
            _ => None,
        };
        let finish = job.finish_s.map(|f| format!("done {}", clock_words(f, now, offset)));
        match (start, finish) {
            (Some(s), Some(f)) => Some(format!("{s}, {f}")),
            (s, f) => s.or(f),
        }
    };
    let guess = (waiting && !job.sliced && job.start_s.is_some()).then_some(text::NOT_SLICED);
    let progress = job.progress.filter(|_| job.is_running()).map(|p| (p * 100.0).round() as u32);
    let copy = (job.copies > 1).then(|| format!(" · copy {} of {}", job.copy_index, job.copies));
    let owner = job.owner.clone().unwrap_or_else(|| text::NOBODY.into());
    let detail = format!("{owner} · {}{}", material_words(&job), copy.unwrap_or_default());
    let printer = job.printer.clone();
    let blocked = job.blocked.clone().or_else(|| job.error.clone().filter(|_| waiting));
    let position = job.position.map(|p| (p + 1).to_string());

    // Dragging (managers): pointer events, so mouse, pen and touch all work.
    let is_dragged = move || drag.with(|d| d.as_ref().is_some_and(|d| d.id == id));
    let landing = move || drag.with(|d| d.as_ref().map(|d| drop_neighbours(&d.others, d.y)));
    let drop_before = move || landing().is_some_and(|(_, before)| before == Some(id)) && !is_dragged();
    let drop_after =
        move || landing().is_some_and(|(after, before)| after == Some(id) && before.is_none()) && !is_dragged();
    let offset_y = move || {
        drag.with(|d| d.as_ref().filter(|d| d.id == id).map(|d| format!("translateY({}px)", d.y - d.start_y)))
            .unwrap_or_default()
    };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        if let Some(d) = begin_drag(&ev, id, &visible) {
            drag.set(Some(d));
        }
    };
    let on_move = move |ev: leptos::ev::PointerEvent| {
        let y = f64::from(ev.client_y());
        drag.update(|d| {
            if let Some(d) = d.as_mut().filter(|d| d.id == id) {
                d.y = y;
            }
        });
    };
    let on_up = move |ev: leptos::ev::PointerEvent| {
        let Some(mut d) = drag.get_untracked().filter(|d| d.id == id) else { return };
        d.y = f64::from(ev.client_y());
        drag.set(None);
        let (after, before) = drop_neighbours(&d.others, d.y);
        if (after, before) == d.was {
            refresh.run(None);
            return;
        }
        leptos::task::spawn_local(async move {
            match place_job(id, after, before).await {
                Ok(m) => notice.set(Some(Notice { error: false, text: m, job: None })),
                Err(e) => notice.set(Some(Notice { error: true, text: error_text(e), job: None })),
            }
            refresh.run(None);
        });
    };
    let on_cancel = move |_: leptos::ev::PointerEvent| {
        drag.set(None);
        refresh.run(None);
    };
    let handle = (waiting && order.is_some()).then(|| {
        view! {
            <div
                class="drag-handle"
                aria-hidden="true"
                title=text::DRAG
                data-testid="drag-handle"
                on:pointerdown=on_down
                on:pointermove=on_move
                on:pointerup=on_up
                on:pointercancel=on_cancel
            >
                "⠿"
            </div>
        }
    });

    view! {
        <li
            class=format!("queue-row state-{}", job.state)
            class:dragging=is_dragged
            class:drop-before=drop_before
            class:drop-after=drop_after
            style:transform=offset_y
            data-testid="queue-row"
            data-job-id=id.to_string()
            data-state=job.state.clone()
            data-waiting=waiting.to_string()
        >
            {handle}
            {position.map(|p| view! { <span class="position" aria-label="Place in the queue">{p}</span> })}
            {job.model_version_id.map(|v| view! {
                <img
                    class="thumb"
                    src=format!("/api/v1/models/versions/{v}/thumbnail.png")
                    alt=""
                    width="56"
                    height="56"
                    loading="lazy"
                />
            })}
            <div class="what">
                <a class="name" href=format!("/jobs/{id}") data-testid="job-link">{job.name.clone()}</a>
                <span class="detail">{detail}</span>
                {blocked.map(|b| view! { <span class="blocked">{b}</span> })}
            </div>
            <div class="status">
                <span class=format!("badge state-{}", job.state) data-testid="job-state">
                    {state_label(&job.state)}
                    {progress.map(|p| format!(" {p}%"))}
                </span>
                {progress.map(|p| {
                    view! {
                        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=p>
                            <div class="bar" style=format!("width: {p}%")></div>
                        </div>
                    }
                })}
            </div>
            <div class="when" data-testid="job-times">
                {times}
                {guess.map(|g| view! { <span class="guess">{g}</span> })}
            </div>
            <span class="printer" data-testid="job-printer">{printer}</span>
            <JobButtons job=job.clone() order=order.unwrap_or_default() notice refresh/>
        </li>
    }
    .into_any()
}

/// Starts a drag from the handle under the pointer: captures the pointer and measures the rows.
fn begin_drag(ev: &leptos::ev::PointerEvent, id: i64, visible: &[i64]) -> Option<Drag> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.prevent_default();
        if let Some(target) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let _ = target.set_pointer_capture(ev.pointer_id());
        }
        let doc = document();
        let mut others = Vec::new();
        for &other in visible {
            let Ok(Some(el)) = doc.query_selector(&format!("[data-testid=\"queue-row\"][data-job-id=\"{other}\"]"))
            else {
                continue;
            };
            let rect = el.get_bounding_client_rect();
            if other != id {
                others.push((other, rect.top() + rect.height() / 2.0));
            }
        }
        let i = visible.iter().position(|&x| x == id)?;
        let was = (i.checked_sub(1).map(|k| visible[k]), visible.get(i + 1).copied());
        let y = f64::from(ev.client_y());
        Some(Drag { id, start_y: y, y, others, was })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (ev, id, visible);
        None
    }
}

/// A selector for the job control that just got the keyboard focus, so it can get it back after a redraw.
fn focus_selector(ev: &leptos::ev::FocusEvent) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let el = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
        let action = el.get_attribute("data-action")?;
        let id = el.closest("[data-job-id]").ok()??.get_attribute("data-job-id")?;
        Some(format!("[data-job-id=\"{id}\"] [data-action=\"{action}\"]"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// Puts the keyboard focus back on a job control after the list was redrawn, when nothing else has it.
fn refocus(selector: String) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        let doc = document();
        let lost = doc.active_element().is_none_or(|a| {
            let a: &wasm_bindgen::JsValue = a.as_ref();
            doc.body().is_some_and(|b| AsRef::<wasm_bindgen::JsValue>::as_ref(&b) == a)
        });
        if !lost {
            return;
        }
        if let Ok(Some(el)) = doc.query_selector(&selector) {
            if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// Running and planned jobs per printer over the next hours, as bars.
#[component]
fn Timeline(snap: QueueSnapshot) -> impl IntoView {
    let now = snap.now_s;
    let last = snap
        .jobs
        .iter()
        .filter(|j| (j.is_running() || j.is_waiting()) && j.printer_id.is_some())
        .filter_map(|j| j.finish_s)
        .max();
    let Some(last) = last else {
        return view! {
            <div class="timeline" data-testid="timeline">
                <h2 class="queue-section">{text::TIMELINE}</h2>
                <p class="muted">{text::TIMELINE_EMPTY}</p>
            </div>
        }
        .into_any();
    };
    let hours = ((last - now + 3599) / 3600).clamp(2, 24);
    let span = (hours * 3600) as f64;
    let every = match hours {
        0..=4 => 1,
        5..=8 => 2,
        9..=16 => 4,
        _ => 6,
    };
    let ticks = (0..=hours)
        .step_by(every as usize)
        .map(|h| {
            let left = h as f64 * 3600.0 / span * 100.0;
            let label = if h == 0 { "now".to_string() } else { clock_words(now + h * 3600, now, snap.utc_offset_min) };
            let label = label.trim_start_matches("today ").to_string();
            view! { <span class="tick" style=format!("left: {left:.2}%")>{label}</span> }
        })
        .collect_view();
    let rows = snap
        .printers
        .iter()
        .map(|p| {
            let bars = snap
                .jobs
                .iter()
                .filter(|j| j.printer_id == Some(p.id) && (j.is_running() || j.is_waiting()))
                .filter_map(|j| {
                    let (s, f) = (j.start_s.unwrap_or(now).max(now), j.finish_s?);
                    if f <= now || s >= now + hours * 3600 {
                        return None;
                    }
                    let left = (s - now) as f64 / span * 100.0;
                    let width = ((f.min(now + hours * 3600) - s) as f64 / span * 100.0).max(0.5);
                    let title = format!(
                        "{}: {} – {}",
                        j.name,
                        when_words(j.start_s.unwrap_or(now), now, snap.utc_offset_min),
                        clock_words(f, now, snap.utc_offset_min)
                    );
                    Some(view! {
                        <a
                            class=format!("bar state-{}", j.state)
                            class:running=j.is_running()
                            href=format!("/jobs/{}", j.id)
                            style=format!("left: {left:.2}%; width: {width:.2}%")
                            title=title.clone()
                            aria-label=title
                            data-testid="timeline-bar"
                        >
                            <span>{j.name.clone()}</span>
                        </a>
                    })
                })
                .collect_view();
            view! {
                <div class="timeline-row">
                    <span class="printer-name">{p.name.clone()}</span>
                    <div class="track">{bars}</div>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="timeline" data-testid="timeline">
            <h2 class="queue-section">{text::TIMELINE}</h2>
            <div class="timeline-row ticks">
                <span class="printer-name"></span>
                <div class="track">{ticks}</div>
            </div>
            {rows}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
        assert_eq!(civil(19_417), (2023, 3, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span_words(10), "less than a minute");
        assert_eq!(span_words(25 * 60), "25 min");
        assert_eq!(span_words(2 * 3600 + 10 * 60), "2 h 10 min");
        assert_eq!(span_words(3 * 3600), "3 h");
        assert_eq!(span_words(-5), "less than a minute");
    }

    #[test]
    fn moments_name_the_day_in_local_time() {
        // 2026-11-29 12:00 UTC.
        let now = 1_795_953_600;
        assert_eq!(clock_words(now + 2 * 3600 + 5 * 60, now, 0), "today 14:05");
        assert_eq!(clock_words(now + 13 * 3600, now, 0), "tomorrow 01:00");
        assert_eq!(clock_words(now - 13 * 3600, now, 0), "yesterday 23:00");
        assert_eq!(clock_words(now + 3 * 86_400, now, 0), "2 Dec 12:00");
        // An hour east of UTC: 12:30 UTC is 13:30 there, and 23:30 UTC is already tomorrow.
        assert_eq!(clock_words(now + 1800, now, 60), "today 13:30");
        assert_eq!(clock_words(now + 11 * 3600 + 1800, now, 60), "tomorrow 00:30");
        assert_eq!(when_words(now + 10, now, 0), "now");
        assert_eq!(when_words(now + 2 * 3600 + 10 * 60, now, 0), "in 2 h 10 min");
        assert_eq!(when_words(now + 4 * 3600, now, 0), "today 16:00");
    }

    #[test]
    fn steps_move_between_the_right_neighbours() {
        let order = [1, 2, 3, 4];
        assert_eq!(step_neighbours(&order, 3, true), Some((Some(1), Some(2))));
        assert_eq!(step_neighbours(&order, 2, true), Some((None, Some(1))));
        assert_eq!(step_neighbours(&order, 1, true), None);
        assert_eq!(step_neighbours(&order, 2, false), Some((Some(3), Some(4))));
        assert_eq!(step_neighbours(&order, 3, false), Some((Some(4), None)));
        assert_eq!(step_neighbours(&order, 4, false), None);
        assert_eq!(step_neighbours(&order, 9, false), None);
    }

    #[test]
    fn drops_land_between_the_rows_around_the_pointer() {
        let others = [(1, 100.0), (2, 160.0), (3, 220.0)];
        assert_eq!(drop_neighbours(&others, 50.0), (None, Some(1)));
        assert_eq!(drop_neighbours(&others, 130.0), (Some(1), Some(2)));
        assert_eq!(drop_neighbours(&others, 400.0), (Some(3), None));
        assert_eq!(drop_neighbours(&[], 10.0), (None, None));
    }

    fn job(id: i64, state: &str, owner: Option<&str>, printer: Option<i64>) -> QueueJob {
        QueueJob {
            id,
            name: format!("job {id}"),
            model_version_id: Some(1),
            owner_id: None,
            owner: owner.map(str::to_string),
            state: state.into(),
            material_kind: None,
            colour: None,
            quality: "standard".into(),
            copies: 1,
            copy_index: 1,
            priority: 0,
            printer_id: printer,
            printer: None,
            progress: None,
            position: None,
            start_s: None,
            finish_s: None,
            blocked: None,
            sliced: false,
            estimate_s: None,
            filament_g: None,
            print_s: 0.0,
            filament_used_g: 0.0,
            cost: 0.0,
            attempts: 0,
            max_attempts: 3,
            error: None,
            created_s: None,
        }
    }

    #[test]
    fn filters_combine() {
        let jobs = vec![
            job(1, "printing", Some("Maya Lee"), Some(1)),
            job(2, "queued", Some("Omar"), Some(2)),
            job(3, "awaiting_approval", Some("maya lee"), None),
            job(4, "failed", None, Some(1)),
        ];
        let ids = |g, p, w: &str| filtered(&jobs, g, p, w).map(|j| j.id).collect::<Vec<_>>();
        assert_eq!(ids(StateGroup::All, None, ""), [1, 2, 3, 4]);
        assert_eq!(ids(StateGroup::All, None, " MAYA "), [1, 3]);
        assert_eq!(ids(StateGroup::All, Some(1), ""), [1, 4]);
        assert_eq!(ids(StateGroup::Waiting, None, ""), [2]);
        assert_eq!(ids(StateGroup::Approval, None, "maya"), [3]);
        assert_eq!(ids(StateGroup::Problem, None, "no owner"), [4]);
    }

    #[test]
    fn materials_in_words() {
        let mut j = job(1, "queued", None, None);
        assert_eq!(material_words(&j), "any material");
        j.material_kind = Some("PLA".into());
        j.colour = Some("Red".into());
        assert_eq!(material_words(&j), "PLA · Red");
    }
}
