//! `drover history JOB [-p]`: a job's versions, newest first, each with
//! whether its deployment succeeded (stable) and when it was submitted;
//! `-p` adds each version's diff against the one before, rendered as
//! `drover plan` renders one. `drover revert JOB VERSION` registers an
//! older version's spec again, as a new version. `--submitted` prints a
//! version's file as it was applied (credentials `<redacted>`), ready to
//! edit and apply again.

use drover_api::versions::{JobVersion, RevertRequest};
use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::client::{runtime, ApiArgs};
use super::output::{fields, print_machine, timestamp_ago, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job's name.
    pub job: String,
    /// Show each version's changes against the version before it.
    #[arg(short = 'p', long = "diff")]
    pub diff: bool,
    /// Only this version.
    #[arg(long = "job-version", value_name = "VERSION")]
    pub job_version: Option<u64>,
    /// Print the file the version (the latest without --job-version) was
    /// applied as, instead of the history; its --var flags go to stderr.
    #[arg(long = "submitted")]
    pub submitted: bool,
    /// `json` or `yaml` print the server's answer (`table`: the text form).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    if args.submitted {
        let answer = runtime()?
            .block_on(client.submission(&args.job, args.job_version))?
            .value;
        if !args.output.is_table() {
            print_machine(args.output, &serde_json::to_value(&answer)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        print!("{}", answer.submission.source);
        for (name, value) in &answer.submission.variable_flags {
            eprintln!("applied with --var {name}={value}");
        }
        if !answer.submission.variables.is_empty() {
            eprintln!(
                "applied with --var-file contents:\n{}",
                answer.submission.variables
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut answer = runtime()?
        .block_on(client.versions(&args.job, args.diff))?
        .value;
    if let Some(wanted) = args.job_version {
        answer.versions.retain(|v| v.version == wanted);
        if answer.versions.is_empty() {
            anyhow::bail!("job {:?} has no version {wanted}", args.job);
        }
    }
    if !args.output.is_table() {
        print_machine(args.output, &serde_json::to_value(&answer)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render(&answer.versions, args.diff, Utc::now()));
    Ok(ExitCode::SUCCESS)
}

/// Nomad's `job history` layout: one block per version (pure).
pub fn render(versions: &[JobVersion], diffs: bool, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for (i, v) in versions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let submitted = v
            .job
            .metadata
            .submit_time
            .or(v.job.metadata.creation_timestamp);
        let mut pairs = vec![
            ("Version", v.version.to_string()),
            ("Stable", v.stable.to_string()),
            ("Submit Date", timestamp_ago(submitted, now)),
        ];
        if v.job.spec.stop {
            pairs.push(("Stopped", "true".to_string()));
        }
        out.push_str(&fields(&pairs));
        if !diffs {
            continue;
        }
        match &v.diff {
            Some(d) if !d.is_empty() => {
                out.push_str("Diff:\n");
                for line in d.render().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Some(_) => out.push_str("Diff: no changes\n"),
            None => out.push_str("Diff: (the first version)\n"),
        }
    }
    out
}

#[derive(Debug, clap::Args)]
pub struct RevertArgs {
    /// The job's name.
    pub job: String,
    /// The version whose spec to run again (`drover history JOB` lists them).
    #[arg(value_name = "VERSION")]
    pub job_version: u64,
    /// Only if the job is still at this index (as `drover apply --check-index`).
    #[arg(long = "check-index")]
    pub check_index: Option<i64>,
    /// Only if the job is still at this version.
    #[arg(long = "prior-version")]
    pub prior_version: Option<u64>,
}

pub fn revert(args: &RevertArgs, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = api.client()?;
    let body = RevertRequest {
        job_version: args.job_version,
        enforce_prior_version: args.prior_version,
        check_index: args.check_index,
    };
    let r = runtime()?.block_on(client.revert(&args.job, &body))?;
    println!(
        "job {:?} reverted to the spec of version {}: it is now version {} (index {}); \
         `drover describe job {}` follows the rollout",
        args.job, args.job_version, r.version, r.index, args.job
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use drover_api_types::diff::JobDiff;

    fn version(v: u64, stable: bool, diff: Option<JobDiff>) -> JobVersion {
        let src = "job \"web\" {\n group \"front\" {\n task \"t\" {\n driver = \"docker\"\n config { image = \"x\" }\n }\n }\n}\n";
        let options = drover_api_types::jobspec::ParseOptions::default();
        let loaded =
            drover_api_types::jobspec::parse_str("web.nomad", src, &options).expect("parse");
        let mut job = loaded.jobs.into_iter().next().expect("one job");
        job.metadata.submit_time = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single();
        JobVersion {
            version: v,
            stable,
            job,
            diff,
        }
    }

    #[test]
    fn versions_print_newest_first_with_stability_and_diffs() {
        let diff: JobDiff = serde_json::from_value(serde_json::json!({
            "type": "edited", "id": "web",
            "groups": [{"type": "edited", "name": "front",
                "fields": [{"type": "edited", "name": "count", "old": "1", "new": "2"}]}],
        }))
        .expect("diff");
        let now = Utc
            .with_ymd_and_hms(2024, 5, 1, 10, 5, 0)
            .single()
            .expect("now");
        let page = render(
            &[version(1, true, Some(diff)), version(0, false, None)],
            true,
            now,
        );
        let expected_head = "Version     = 1\nStable      = true\nSubmit Date = 2024-05-01T10:00:00Z (5m ago)\nDiff:\n";
        assert!(page.starts_with(expected_head), "{page}");
        assert!(page.contains("count: \"1\" => \"2\""), "{page}");
        assert!(
            page.contains("Version     = 0\nStable      = false"),
            "{page}"
        );
        assert!(page.contains("(the first version)"), "{page}");
        let plain = render(&[version(1, true, None)], false, now);
        assert!(!plain.contains("Diff"), "{plain}");
    }
}
