//! A small live temperature plot for a printer tile: nozzle and bed over the last minutes, as SVG.

use leptos::prelude::*;

use crate::live::{LiveFarm, TempHistory};

/// Plot size in SVG units (the tile scales it).
const W: f64 = 160.0;
const H: f64 = 36.0;

/// The polyline points of one series, scaled so `top` °C is the top edge and 0 °C the bottom.
fn points(history: &TempHistory, top: f64, pick: impl Fn(&crate::live::TempSample) -> f32) -> String {
    let Some(last) = history.samples.back() else { return String::new() };
    let start = last.at_ms - TempHistory::SPAN_MS;
    history
        .samples
        .iter()
        .map(|s| {
            let x = ((s.at_ms - start) / TempHistory::SPAN_MS * W).clamp(0.0, W);
            let y = H - (f64::from(pick(s)) / top * H).clamp(0.0, H);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The scale's top: the hottest reading or target seen, with room above, at least 60 °C.
fn top_of(history: &TempHistory) -> f64 {
    let hottest = history
        .samples
        .iter()
        .flat_map(|s| [s.hotend.actual, s.hotend.target, s.bed.actual, s.bed.target])
        .fold(0.0f32, f32::max);
    (f64::from(hottest) * 1.1).max(60.0)
}

/// Nozzle (warm colour) and bed (cool colour) temperatures of `printer` since the page opened.
#[component]
pub fn TempSparkline(printer: i64) -> impl IntoView {
    let live = expect_context::<LiveFarm>();
    let history = move || live.temps.with(|t| t.get(&printer).cloned()).unwrap_or_default();
    view! {
        <svg
            class="sparkline"
            viewBox=format!("0 0 {W} {H}")
            preserveAspectRatio="none"
            role="img"
            aria-label="Nozzle and bed temperature over the last minutes"
            data-testid="temp-sparkline"
        >
            {move || {
                let h = history();
                let top = top_of(&h);
                let n = h.samples.len();
                view! {
                    <polyline class="bed" data-samples=n points=points(&h, top, |s| s.bed.actual)/>
                    <polyline class="hotend" data-samples=n points=points(&h, top, |s| s.hotend.actual)/>
                }
            }}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::TempSample;
    use crate::wire::TempView;

    #[test]
    fn newest_reading_sits_at_the_right_edge_and_heat_goes_up() {
        let mut h = TempHistory::default();
        for i in 0..10 {
            let c = 20.0 + 20.0 * i as f32;
            h.push(TempSample {
                at_ms: i as f64 * 2000.0,
                hotend: TempView { actual: c, target: 200.0 },
                bed: TempView::default(),
            });
        }
        let top = top_of(&h);
        assert!((top - 220.0).abs() < 1e-6, "{top}");
        let pts = points(&h, top, |s| s.hotend.actual);
        let coords: Vec<(f64, f64)> = pts
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(coords.len(), 10);
        assert_eq!(coords.last().unwrap().0, W);
        assert!(coords.windows(2).all(|w| w[1].0 > w[0].0 && w[1].1 < w[0].1), "{pts}");
        assert_eq!(points(&TempHistory::default(), 60.0, |s| s.bed.actual), "");
    }
}
