//! An allocation's CPU and memory over the last minutes, as small inline
//! SVG charts drawn on the server (no script library): per task, CPU in
//! MHz against what the task reserved, and memory against its limit. Each
//! chart is an image with an accessible name saying the latest values.
//!
//! The panel is asked of `/v1/client/allocation/{id}/stats` (the node's
//! agent, through the API) within [`AGENT_WAIT`], so a page never waits
//! long for an agent that is away: it says so instead. The page's script
//! fetches the panel again every 10 s (`/ui/alloc-usage/{ns}/{id}`).
//!
//! Drawing is pure: [`plot`] turns samples into coordinates (the latest
//! sample at the right edge, [`WINDOW_SECS`] before it at the left, gaps
//! where a sample had no value) and [`path_of`] into an SVG path.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use drover_api::stats::{AllocResourceUsage, TaskUsage};
use maud::{html, Markup};

use super::url_component;
use crate::ui::calls::{Ui, Visitor};
use crate::ui::layout::html_response;

/// How long a page waits for the agent's figures.
pub const AGENT_WAIT: Duration = Duration::from_millis(1500);
/// The time the charts span, seconds.
pub const WINDOW_SECS: f64 = 300.0;
/// The drawing's size, in its own units (the page scales it).
const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 80.0;
/// Room above the highest value or line.
const HEADROOM: f64 = 1.15;

/// What the panel shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Usage {
    Shown(Box<AllocResourceUsage>),
    /// Why there are no figures (the agent unreachable, slow, refusing).
    Unavailable(String),
}

/// The figures of allocation `id` as `token` may read them, or why not,
/// within [`AGENT_WAIT`].
pub async fn fetch(ui: &Ui, token: Option<&str>, namespace: &str, id: &str) -> Usage {
    let path = format!(
        "/v1/client/allocation/{}/stats?namespace={}",
        url_component(id),
        url_component(namespace)
    );
    match tokio::time::timeout(AGENT_WAIT, ui.get::<AllocResourceUsage>(token, &path)).await {
        Ok(Ok(usage)) => Usage::Shown(Box::new(usage)),
        Ok(Err(e)) => Usage::Unavailable(e.message),
        Err(_) => Usage::Unavailable(format!(
            "the node's agent did not answer within {} s",
            AGENT_WAIT.as_secs_f64()
        )),
    }
}

/// `GET /ui/alloc-usage/{namespace}/{id}`: the panel's content alone,
/// for the page's script to swap in.
pub async fn panel(
    State(ui): State<Ui>,
    visitor: Visitor,
    Path((namespace, id)): Path<(String, String)>,
) -> Response {
    if ui.acl && visitor.0.is_none() {
        return (StatusCode::FORBIDDEN, "sign in at /ui/token").into_response();
    }
    let usage = fetch(&ui, visitor.0.as_deref(), &namespace, &id).await;
    html_response(render_usage(&usage))
}

/// The panel's content (pure).
pub fn render_usage(usage: &Usage) -> Markup {
    match usage {
        Usage::Unavailable(why) => html! {
            p.muted { "Resource usage unavailable: " (why) }
        },
        Usage::Shown(usage) if usage.history.is_empty() => html! {
            p.muted { "No task reports resource usage." }
        },
        Usage::Shown(usage) => html! {
            p.muted {
                "The last " (WINDOW_SECS / 60.0) " minutes, a sample every "
                (usage.interval_seconds) " s (CPU in MHz of the node's cores)."
            }
            @for (task, history) in &usage.history {
                div.usage-task {
                    h3 { (task) }
                    div.charts {
                        (cpu_chart(task, history))
                        (memory_chart(task, history))
                    }
                }
            }
        },
    }
}

fn cpu_chart(task: &str, history: &TaskUsage) -> Markup {
    let points: Vec<(DateTime<Utc>, Option<f64>)> = history
        .samples
        .iter()
        .map(|s| (s.time, s.cpu_mhz))
        .collect();
    let latest = history.samples.last();
    let now = match latest.and_then(|s| s.cpu_mhz.zip(s.cpu_percent)) {
        Some((mhz, percent)) => format!("{mhz:.0} MHz ({percent:.1}% of a core)"),
        None => "not measured yet".to_string(),
    };
    let reserved = history.cpu_reserved_mhz as f64;
    let label = format!(
        "CPU of {task} over the last {} minutes: now {now}; {reserved:.0} MHz reserved",
        WINDOW_SECS / 60.0
    );
    chart(
        &label,
        &format!("CPU: {now}"),
        &points,
        (reserved > 0.0).then(|| (reserved, format!("{reserved:.0} MHz reserved"))),
    )
}

fn memory_chart(task: &str, history: &TaskUsage) -> Markup {
    let points: Vec<(DateTime<Utc>, Option<f64>)> = history
        .samples
        .iter()
        .map(|s| (s.time, Some(s.memory_bytes as f64)))
        .collect();
    let now = match history.samples.last() {
        Some(s) => bytes(s.memory_bytes as f64),
        None => "not measured yet".to_string(),
    };
    let limit = history.memory_limit_bytes as f64;
    let label = format!(
        "Memory of {task} over the last {} minutes: now {now} of a {} limit",
        WINDOW_SECS / 60.0,
        bytes(limit)
    );
    chart(
        &label,
        &format!("Memory: {now}"),
        &points,
        (limit > 0.0).then(|| (limit, format!("{} limit", bytes(limit)))),
    )
}

/// `value` bytes as MiB (or KiB when small).
pub fn bytes(value: f64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if value < MIB {
        format!("{:.0} KiB", value / 1024.0)
    } else {
        format!("{:.1} MiB", value / MIB)
    }
}

/// One chart: the samples as a line (a dot for one standing alone), the
/// `limit` as a dashed line with its words, `label` its accessible name.
fn chart(
    label: &str,
    caption: &str,
    points: &[(DateTime<Utc>, Option<f64>)],
    limit: Option<(f64, String)>,
) -> Markup {
    let highest = points
        .iter()
        .filter_map(|(_, v)| *v)
        .chain(limit.as_ref().map(|(l, _)| *l))
        .fold(0.0_f64, f64::max);
    let top = if highest > 0.0 {
        highest * HEADROOM
    } else {
        1.0
    };
    let runs = plot(points, top);
    let path = path_of(&runs);
    let dots: Vec<(f64, f64)> = runs.iter().filter(|r| r.len() == 1).map(|r| r[0]).collect();
    let limit_y = limit.as_ref().map(|(l, words)| (y_of(*l, top), words));
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(label) {
                title { (label) }
                rect.frame x="0" y="0" width=(WIDTH) height=(HEIGHT) {}
                @if let Some((y, words)) = &limit_y {
                    line.limit x1="0" x2=(WIDTH) y1=(num(*y)) y2=(num(*y)) {}
                    text.limit-label x="4" y=(num((y - 3.0).max(9.0))) { (words) }
                }
                @if !path.is_empty() {
                    path.series d=(path) {}
                }
                @for (x, y) in &dots {
                    circle.series-dot cx=(num(*x)) cy=(num(*y)) r="2" {}
                }
                @if points.is_empty() {
                    text.empty x=(WIDTH / 2.0) y=(HEIGHT / 2.0) { "no samples yet" }
                }
            }
            figcaption { (caption) }
        }
    }
}

/// A coordinate as the path writes it: one decimal.
fn num(v: f64) -> String {
    format!("{v:.1}")
}

fn y_of(value: f64, top: f64) -> f64 {
    let share = (value / top).clamp(0.0, 1.0);
    HEIGHT - share * HEIGHT
}

/// The samples as coordinates (pure), in runs of consecutive points with
/// a value: a sample without one (no rate yet) ends a run. The latest
/// sample sits at the right edge; samples older than [`WINDOW_SECS`]
/// before it are left out. `top` is the value at the top edge.
pub fn plot(points: &[(DateTime<Utc>, Option<f64>)], top: f64) -> Vec<Vec<(f64, f64)>> {
    let Some(latest) = points.iter().map(|(t, _)| *t).max() else {
        return Vec::new();
    };
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (time, value) in points {
        let ago = (latest - *time).num_milliseconds() as f64 / 1000.0;
        match value {
            Some(v) if ago <= WINDOW_SECS => {
                let x = WIDTH - ago / WINDOW_SECS * WIDTH;
                current.push((x, y_of(*v, top)));
            }
            _ => {
                if !current.is_empty() {
                    runs.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// An SVG path drawing each run of two or more points (pure; a run of one
/// is a dot, drawn apart). Empty when there is nothing to draw.
pub fn path_of(runs: &[Vec<(f64, f64)>]) -> String {
    let mut d = String::new();
    for run in runs.iter().filter(|r| r.len() > 1) {
        for (i, (x, y)) in run.iter().enumerate() {
            if !d.is_empty() {
                d.push(' ');
            }
            d.push(if i == 0 { 'M' } else { 'L' });
            d.push_str(&num(*x));
            d.push(' ');
            d.push_str(&num(*y));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use drover_api::stats::UsageSample;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).single().expect("time")
    }

    #[test]
    fn no_samples_draw_nothing_and_one_sample_is_a_dot() {
        assert!(plot(&[], 10.0).is_empty());
        assert_eq!(path_of(&[]), "");
        let one = plot(&[(at(100), Some(5.0))], 10.0);
        assert_eq!(one, vec![vec![(WIDTH, HEIGHT / 2.0)]]);
        assert_eq!(path_of(&one), "", "one point is no line");
        // A first sample without a rate draws nothing at all.
        assert!(plot(&[(at(100), None)], 10.0).is_empty());
    }

    #[test]
    fn the_latest_sample_is_at_the_right_edge_and_gaps_split_the_line() {
        let points = [
            (at(0), Some(0.0)), // older than the window: left out
            (at(700), None),    // a new container: no rate
            (at(710), Some(10.0)),
            (at(850), Some(5.0)),
            (at(860), None),
            (at(1000), Some(20.0)),
        ];
        let runs = plot(&points, 20.0);
        assert_eq!(
            runs,
            vec![vec![(10.0, 40.0), (150.0, 60.0)], vec![(WIDTH, 0.0)],]
        );
        assert_eq!(path_of(&runs), "M10.0 40.0 L150.0 60.0");
        // Values above the top stay inside the drawing.
        assert_eq!(plot(&[(at(1), Some(50.0))], 10.0), vec![vec![(WIDTH, 0.0)]]);
    }

    fn usage(samples: Vec<UsageSample>) -> AllocResourceUsage {
        let mut usage = AllocResourceUsage {
            interval_seconds: 10,
            ..AllocResourceUsage::default()
        };
        usage.history.insert(
            "web".into(),
            TaskUsage {
                cpu_reserved_mhz: 500,
                memory_limit_bytes: 256 << 20,
                samples,
            },
        );
        usage
    }

    #[test]
    fn each_chart_is_an_image_named_by_its_latest_values() {
        let html = render_usage(&Usage::Shown(Box::new(usage(vec![
            UsageSample {
                time: at(100),
                cpu_percent: None,
                cpu_mhz: None,
                memory_bytes: 10 << 20,
            },
            UsageSample {
                time: at(110),
                cpu_percent: Some(2.5),
                cpu_mhz: Some(50.0),
                memory_bytes: 12 << 20,
            },
        ]))))
        .into_string();
        assert_eq!(html.matches("role=\"img\"").count(), 2, "{html}");
        assert!(
            html.contains("aria-label=\"CPU of web over the last 5 minutes: now 50 MHz (2.5% of a core); 500 MHz reserved\""),
            "{html}"
        );
        assert!(
            html.contains(
                "Memory of web over the last 5 minutes: now 12.0 MiB of a 256.0 MiB limit"
            ),
            "{html}"
        );
        assert!(html.contains("class=\"limit\""), "{html}");
        assert!(html.contains("<path class=\"series\""), "{html}");
        // The CPU's one measured point is a dot.
        assert!(html.contains("<circle class=\"series-dot\""), "{html}");

        let empty = render_usage(&Usage::Shown(Box::new(usage(Vec::new())))).into_string();
        assert!(empty.contains("no samples yet"), "{empty}");
        assert!(empty.contains("now not measured yet"), "{empty}");
        assert!(!empty.contains("<path"), "{empty}");

        let away =
            render_usage(&Usage::Unavailable("node n1 is not registered".into())).into_string();
        assert!(away.contains("Resource usage unavailable: node n1 is not registered"));
    }
}
