//! Pieces more than one view shows: a job diff, placement failures, a job
//! as a manifest to edit.

use std::collections::BTreeMap;

use drover_api_types::diff::JobDiff;
use drover_api_types::job::PlacementFailure;
use drover_api_types::Job;
use maud::{html, Markup};

/// A job diff as `drover plan` prints it, each line marked by what it
/// does (`+` added, `-` removed, `~` changed) for the stylesheet.
pub fn diff_block(diff: &JobDiff) -> Markup {
    let text = diff.render();
    html! {
        pre.diff {
            @for line in text.lines() {
                @let class = match line.trim_start().chars().next() {
                    Some('+') => "added",
                    Some('-') => "removed",
                    Some('~') => "changed",
                    _ => "same",
                };
                span class=(class) { (line) } "\n"
            }
        }
    }
}

/// Why allocations of each group could not be placed, with what held
/// them back (the quota, each filter, each exhausted dimension).
pub fn placement_failures(failures: &BTreeMap<String, PlacementFailure>) -> Markup {
    html! {
        @for (group, failure) in failures {
            section.card role="alert" aria-label=(format!("Placement failures of {group}")) {
                p {
                    strong { (group) } ": " (failure.queued) " not placed, "
                    (failure.nodes_evaluated) " node(s) evaluated"
                }
                ul {
                    @if let Some(quota) = &failure.quota_exhausted { li { (quota) } }
                    @for (reason, nodes) in &failure.nodes_filtered {
                        li { (reason) " filtered " (nodes) " node(s)" }
                    }
                    @for (dimension, nodes) in &failure.dimensions_exhausted {
                        li { (dimension) " exhausted on " (nodes) " node(s)" }
                    }
                }
            }
        }
    }
}

/// Lines of output a page opens with.
pub const TAIL_LINES: u32 = 200;

/// Output streamed from `src` (a `/ui/…` pass-through of a logs route)
/// and followed by the page's script; the filter hides lines without the
/// text typed. Kept across live refreshes (`data-keep`).
pub fn output_panel(id: &str, src: &str, label: &str) -> Markup {
    html! {
        div.logs-panel id=(id) data-keep data-src=(src) data-tail=(TAIL_LINES) {
            h3 { "Output" }
            div.controls {
                label { "Stream " select name="stream" { option value="stdout" { "stdout" } option value="stderr" { "stderr" } } }
                label { input type="checkbox" name="follow" checked; " Follow" }
                label { "Filter " input type="search" name="filter" placeholder="text in a line"; }
            }
            pre.logs tabindex="0" aria-label=(label) aria-live="off" {}
        }
    }
}

/// `job` as a YAML manifest `drover apply` (and the editor) takes back:
/// its spec, without what the cluster wrote (status, versions, ids).
pub fn manifest(job: &Job) -> String {
    let mut job = job.clone();
    job.status = None;
    let meta = &mut job.metadata;
    meta.uid.clear();
    meta.resource_version = 0;
    meta.version = 0;
    meta.submit_time = None;
    meta.creation_timestamp = None;
    drover_api_types::redact::job(&mut job);
    serde_yaml_ng::to_string(&job).unwrap_or_else(|e| format!("# cannot show this job: {e}\n"))
}
