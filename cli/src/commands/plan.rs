//! `drover plan -f FILE`: what applying the job would change, as `nomad
//! plan` shows it — the field diff with each group's allocation changes,
//! the scheduler's dry run (placement failures), and the index to pass to
//! `drover apply --check-index` so that exactly this is registered.
//!
//! Exit codes are nomad plan's: 0 nothing would change, 1 the job or its
//! allocations would change, 255 an error.

use drover_api::plan::{GroupUpdates, PlanResponse};
use std::path::PathBuf;
use std::process::ExitCode;

use super::apply::placement_reason;
use super::client::{runtime, ApiArgs};
use super::jobfile::{collect, load_all, VarArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job file (Nomad HCL or YAML), or `-` for standard input.
    #[arg(short = 'f', long = "file", required = true, value_name = "FILE|-")]
    file: PathBuf,
    #[command(flatten)]
    vars: VarArgs,
}

/// nomad plan's exit code for an error.
const EXIT_ERROR: u8 = 255;

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    match plan(args, api) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn plan(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let sources = collect(std::slice::from_ref(&args.file))?;
    let options = args.vars.parse_options();
    let mut jobs = match load_all(&sources, &options, &mut std::io::stdin().lock()) {
        Ok(jobs) => jobs,
        Err(problems) => {
            problems.iter().for_each(|p| eprintln!("{p}"));
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    };
    if jobs.len() != 1 {
        anyhow::bail!(
            "{}: plan takes one job, the file holds {}",
            args.file.display(),
            jobs.len()
        );
    }
    let job = jobs.remove(0).job;
    let client = api.client()?;
    let answer = runtime()?.block_on(client.plan(&job))?;
    print!("{}", render(&answer, &args.file.display().to_string()));
    Ok(ExitCode::from(exit_code(&answer)))
}

/// 0: nothing would change; 1: the job or its allocations would.
pub fn exit_code(answer: &PlanResponse) -> u8 {
    let allocations_change = answer
        .groups
        .values()
        .any(|g| g.create + g.destroy + g.destructive_update + g.in_place_update + g.migrate > 0);
    u8::from(answer.changed || allocations_change)
}

/// The whole page, nomad plan's layout.
pub fn render(answer: &PlanResponse, file: &str) -> String {
    let mut out = String::new();
    for line in answer.diff.render().lines() {
        out.push_str(line);
        if let Some(updates) = group_of(line).and_then(|g| answer.groups.get(g)) {
            let notes = annotations(updates);
            if !notes.is_empty() {
                out.push_str(&format!(" ({notes})"));
            }
        }
        out.push('\n');
    }
    out.push_str(&update_kinds(answer));
    out.push_str("\nScheduler dry-run:\n");
    if answer.failed_placements.is_empty() {
        out.push_str("- All tasks successfully allocated.\n");
    } else {
        out.push_str("- WARNING: Failed to place all allocations.\n");
        for (group, failure) in &answer.failed_placements {
            out.push_str(&format!(
                "  Task Group {group:?}: {}\n",
                placement_reason(failure)
            ));
        }
    }
    for warning in &answer.warnings {
        out.push_str(&format!("- warning: {warning}\n"));
    }
    let index = answer.job_modify_index;
    out.push_str(&format!("\nJob Modify Index: {index}\n"));
    out.push_str("To submit the job with version verification run:\n\n");
    out.push_str(&format!("drover apply -f {file} --check-index {index}\n\n"));
    out.push_str(
        "When running the job with the check-index flag, the job will only be run if the\n\
         job modify index given matches the server-side version. If the index has\n\
         changed, another user has modified the job and the plan's results are\n\
         potentially invalid.\n",
    );
    out
}

/// Which changed groups update in place and which replace their
/// allocations (groups with no change in the diff are left out).
fn update_kinds(answer: &PlanResponse) -> String {
    let changed: Vec<&str> = answer
        .diff
        .groups
        .iter()
        .filter(|g| g.diff_type == drover_api_types::diff::DiffType::Edited)
        .map(|g| g.name.as_str())
        .collect();
    let mut out = String::new();
    for (group, change) in &answer.update_kinds {
        if !changed.contains(&group.as_str()) {
            continue;
        }
        let line = match (change.destructive, &change.field) {
            (false, _) => "in-place update (allocations keep running)".to_string(),
            (true, Some(f)) if !f.is_empty() => {
                format!("destructive update ({f} changed: allocations are replaced)")
            }
            (true, _) => "destructive update (allocations are replaced)".to_string(),
        };
        out.push_str(&format!("- Group {group:?}: {line}\n"));
    }
    match out.is_empty() {
        true => out,
        false => format!("\nUpdates:\n{out}"),
    }
}

/// The group a diff line names (`  +/- Group: "front"`).
fn group_of(line: &str) -> Option<&str> {
    let rest = &line[line.find("Group: \"")? + "Group: \"".len()..];
    rest.strip_suffix('"')
}

/// `1 create, 2 ignore`, in nomad's order, zeros left out.
fn annotations(u: &GroupUpdates) -> String {
    [
        (u.create, "create"),
        (u.destroy, "destroy"),
        (u.migrate, "migrate"),
        (u.canary, "canary"),
        (u.in_place_update, "in-place update"),
        (u.destructive_update, "create/destroy update"),
        (u.ignore, "ignore"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api::plan::GroupChange;
    use drover_api_types::diff::JobDiff;
    use drover_api_types::job::PlacementFailure;
    use std::collections::BTreeMap;

    fn answer(changed: bool, groups: &[(&str, GroupUpdates)]) -> PlanResponse {
        let diff: JobDiff = serde_json::from_value(serde_json::json!({
            "type": if changed { "edited" } else { "none" },
            "id": "web",
            "groups": [{
                "type": if changed { "edited" } else { "none" },
                "name": "front",
                "fields": if changed {
                    serde_json::json!([{"type": "edited", "name": "count", "old": "2", "new": "3"}])
                } else {
                    serde_json::json!([])
                },
            }],
        }))
        .expect("a diff");
        PlanResponse {
            job_modify_index: 42,
            version: 1,
            changed,
            diff,
            groups: groups.iter().map(|(g, u)| (g.to_string(), *u)).collect(),
            update_kinds: BTreeMap::new(),
            failed_placements: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn canaries_are_counted_as_nomad_prints_them() {
        let updates = GroupUpdates {
            canary: 1,
            ignore: 3,
            ..GroupUpdates::default()
        };
        let page = render(&answer(true, &[("front", updates)]), "web.nomad");
        assert!(
            page.contains("Group: \"front\" (1 canary, 3 ignore)"),
            "{page}"
        );
    }

    #[test]
    fn a_count_change_shows_the_field_the_group_counts_and_the_index() {
        let updates = GroupUpdates {
            create: 1,
            ignore: 2,
            ..GroupUpdates::default()
        };
        let a = answer(true, &[("front", updates)]);
        let page = render(&a, "web.nomad");
        assert!(
            page.contains("Group: \"front\" (1 create, 2 ignore)"),
            "{page}"
        );
        assert!(page.contains("count: \"2\" => \"3\""), "{page}");
        assert!(page.contains("Job Modify Index: 42"), "{page}");
        assert!(page.contains("drover apply -f web.nomad --check-index 42"));
        assert_eq!(exit_code(&a), 1);
    }

    #[test]
    fn nothing_to_do_exits_zero_and_failures_are_listed() {
        let ignore = GroupUpdates {
            ignore: 2,
            ..GroupUpdates::default()
        };
        let mut a = answer(false, &[("front", ignore)]);
        assert_eq!(exit_code(&a), 0);
        a.failed_placements.insert(
            "front".into(),
            PlacementFailure {
                queued: 1,
                nodes_evaluated: 2,
                nodes_filtered: BTreeMap::from([("missing driver docker".into(), 2)]),
                ..PlacementFailure::default()
            },
        );
        let page = render(&a, "web.nomad");
        assert!(page.contains("WARNING: Failed to place all allocations."));
        assert!(
            page.contains("missing driver docker filtered 2 nodes"),
            "{page}"
        );
    }

    #[test]
    fn changed_groups_say_whether_they_update_in_place() {
        let mut a = answer(true, &[("front", GroupUpdates::default())]);
        a.update_kinds
            .insert("front".into(), GroupChange::default());
        a.update_kinds.insert(
            "back".into(),
            GroupChange {
                destructive: true,
                field: Some("tasks[api].env.X".into()),
            },
        );
        let page = render(&a, "web.nomad");
        assert!(
            page.contains("- Group \"front\": in-place update"),
            "{page}"
        );
        assert!(!page.contains("\"back\""), "unchanged groups are left out");
        a.update_kinds.insert(
            "front".into(),
            GroupChange {
                destructive: true,
                field: Some("tasks[web].config.image".into()),
            },
        );
        let page = render(&a, "web.nomad");
        assert!(
            page.contains("destructive update (tasks[web].config.image changed"),
            "{page}"
        );
    }
}
