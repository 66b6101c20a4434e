//! `drover history JOB [-p]`: a job's versions, newest first, each with
//! whether its deployment succeeded (stable) and when it was submitted;
//! `-p` adds each version's diff against the one before, rendered as
//! `drover plan` renders one. `drover revert JOB VERSION` registers an
//! older version's spec again, as a new version.

use std::fmt::Write as _;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use drover_api_types::diff::JobDiff;
use drover_api_types::Job;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{runtime, segment, ApiArgs, Client, Indexed};
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
    /// `json` or `yaml` print the server's answer (`table`: the text form).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// The fields of `GET /v1/job/{name}/versions` this command prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Versions {
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Version {
    pub version: u64,
    #[serde(default)]
    pub stable: bool,
    pub job: Job,
    #[serde(default)]
    pub diff: Option<JobDiff>,
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(api)?;
    let path = format!("/v1/job/{}/versions", segment(&args.job));
    let query = match args.diff {
        true => vec![("diffs", "true".to_string())],
        false => Vec::new(),
    };
    let answer: Indexed<Value> = runtime()?.block_on(client.get(&path, &query))?;
    let mut value = answer.value;
    if let (Some(wanted), Some(list)) = (args.job_version, value["versions"].as_array_mut()) {
        list.retain(|v| v["version"].as_u64() == Some(wanted));
        if list.is_empty() {
            anyhow::bail!("job {:?} has no version {wanted}", args.job);
        }
    }
    if !args.output.is_table() {
        print_machine(args.output, &value)?;
        return Ok(ExitCode::SUCCESS);
    }
    let versions: Versions = serde_json::from_value(value)?;
    print!("{}", render(&versions.versions, args.diff, Utc::now()));
    Ok(ExitCode::SUCCESS)
}

/// Nomad's `job history` layout: one block per version (pure).
pub fn render(versions: &[Version], diffs: bool, now: DateTime<Utc>) -> String {
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

#[derive(Debug, Serialize)]
struct RevertRequest {
    job_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    enforce_prior_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    check_index: Option<i64>,
}

/// What a registration-like write answers.
#[derive(Debug, Deserialize)]
pub struct Registered {
    pub index: i64,
    pub version: u64,
    pub changed: bool,
}

pub fn revert(args: &RevertArgs, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(api)?;
    let path = format!("/v1/job/{}/revert", segment(&args.job));
    let body = RevertRequest {
        job_version: args.job_version,
        enforce_prior_version: args.prior_version,
        check_index: args.check_index,
    };
    let r: Registered = runtime()?.block_on(client.post(&path, &[], &body))?;
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

    fn version(v: u64, stable: bool, diff: Option<JobDiff>) -> Version {
        let src = "job \"web\" {\n group \"front\" {\n task \"t\" {\n driver = \"docker\"\n config { image = \"x\" }\n }\n }\n}\n";
        let options = drover_api_types::jobspec::ParseOptions::default();
        let loaded =
            drover_api_types::jobspec::parse_str("web.nomad", src, &options).expect("parse");
        let mut job = loaded.jobs.into_iter().next().expect("one job");
        job.metadata.submit_time = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single();
        Version {
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
