//! `drover apply -f FILE|DIR|-`: load and validate every job first (one bad
//! file registers nothing), register each through `POST /v1/jobs`, then,
//! unless `--detach`, follow each job's status with blocking queries until
//! every group got where it was asked to go, failed beyond repair, or
//! `--timeout` passed. A service job's version is followed through its
//! deployment: done when it succeeds, failed when it fails (auto-revert
//! included), and handed to the operator when healthy canaries wait for
//! promotion.

mod progress;
mod rollout;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use drover_api_types::job::JobStatus;
use drover_api_types::Job;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::client::{runtime, ApiArgs, Client};
use super::cluster_args::parse_duration;
use super::jobfile::{collect, load_all, SourcedJob, VarArgs};
pub(super) use progress::placement_reason;
use progress::{evaluate, Progress};
use rollout::Verdict;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Job files, directories of them, or `-` for standard input (repeatable).
    #[arg(short = 'f', long = "file", required = true, value_name = "FILE|DIR|-")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    /// Register only if the job is still at this index (0: only if new);
    /// `drover plan` prints it.
    #[arg(long, value_name = "N")]
    check_index: Option<i64>,
    /// Return once registered, without following the allocations.
    #[arg(long, short = 'd')]
    detach: bool,
    /// How long to follow before giving up (the job keeps going).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
}

/// How one job's follow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done,
    /// Healthy canaries wait for `drover deployment promote ID`.
    AwaitingPromotion(String),
    Failed(String),
    TimedOut(Option<String>),
}

pub fn run(args: &Args, api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let sources = collect(&args.files)?;
    let options = args.vars.parse_options();
    let jobs = match load_all(&sources, &options, &mut std::io::stdin().lock()) {
        Ok(jobs) => jobs,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("nothing was registered");
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.check_index.is_some() && jobs.len() != 1 {
        anyhow::bail!(
            "--check-index applies to one job; these files hold {}",
            jobs.len()
        );
    }
    let client = api.client()?;
    runtime()?.block_on(apply(&client, args, jobs))
}

async fn apply(client: &Client, args: &Args, jobs: Vec<SourcedJob>) -> anyhow::Result<ExitCode> {
    let mut registered = Vec::new();
    for SourcedJob {
        source,
        mut job,
        submission,
    } in jobs
    {
        let name = job.metadata.name.clone();
        let before = if args.detach {
            None
        } else {
            read_status(client, &job).await?
        };
        let answer = client
            .register_submitted(&job, args.check_index, submission.as_ref())
            .await
            .with_context(|| format!("{source}: registering job {name:?}"))?;
        let verb = if answer.changed {
            "registered"
        } else {
            "unchanged"
        };
        println!("job {name:?} {verb} (version {})", answer.version);
        job.metadata.version = answer.version;
        // An unchanged job is judged as it stands: its allocations are
        // this version's.
        let baseline = if answer.changed { before } else { None };
        match launch_hint(&job) {
            // Nothing of a parent's own runs: there is nothing to follow.
            Some(hint) => println!("{hint}"),
            None => registered.push((job, baseline)),
        }
    }
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }
    let display = Display::new(registered.len() > 1);
    let follows = registered
        .iter()
        .map(|(job, baseline)| follow(client, job, baseline.as_ref(), args.timeout, &display));
    let outcomes = futures::future::join_all(follows).await;
    let mut ok = true;
    for ((job, _), outcome) in registered.iter().zip(outcomes) {
        let name = &job.metadata.name;
        match outcome {
            Outcome::Done if job.spec.stop => println!("job {name:?} stopped"),
            Outcome::Done => println!("job {name:?} is running as asked"),
            Outcome::AwaitingPromotion(id) => println!(
                "job {name:?}: the canaries are healthy; deployment {id} waits for \
                 promotion (drover deployment promote {id})"
            ),
            Outcome::Failed(reason) => {
                ok = false;
                eprintln!("job {name:?} failed:");
                reason.lines().for_each(|l| eprintln!("  {l}"));
            }
            Outcome::TimedOut(last_error) => {
                ok = false;
                eprintln!(
                    "job {name:?}: still not there after {}; it carries on \
                     (drover describe job {name}, drover get allocs)",
                    humanize(args.timeout)
                );
                if let Some(e) = last_error {
                    eprintln!("  last error: {e}");
                }
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What to say of a periodic or parameterized parent instead of following
/// it (as `nomad job run` does): only its children run, and how they come.
fn launch_hint(job: &Job) -> Option<String> {
    if !job.spec.is_parent() {
        return None;
    }
    let name = &job.metadata.name;
    let stopped = job.spec.stop;
    Some(match (&job.spec.periodic, stopped) {
        (_, true) => format!("job {name:?} stopped: it launches no more children"),
        (Some(_), false) => format!(
            "job {name:?} is periodic: its children launch on schedule \
             (drover describe job {name} shows the next launch; \
             drover periodic force {name} launches one now)"
        ),
        (None, false) => format!(
            "job {name:?} is parameterized: each drover dispatch {name} \
             [--meta K=V]... [PAYLOAD_FILE] runs it once"
        ),
    })
}

/// The job's status now; `None` when the job does not exist yet.
async fn read_status(client: &Client, job: &Job) -> anyhow::Result<Option<JobStatus>> {
    let jobs = client.for_job(job).jobs().await?;
    Ok(jobs
        .value
        .into_iter()
        .find(|j| j.metadata.name == job.metadata.name)
        .and_then(|j| j.status))
}

/// Longest a single blocking query waits, so the timeout stays accurate
/// and a lost connection is noticed.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Longest a blocking query waits while a deployment is followed: its
/// health and state are not part of the job's status, so they are read
/// at least this often.
const DEPLOYMENT_POLL: Duration = Duration::from_secs(2);

async fn follow(
    client: &Client,
    job: &Job,
    baseline: Option<&JobStatus>,
    timeout: Duration,
    display: &Display,
) -> Outcome {
    let lines = display.job(job);
    let deadline = tokio::time::Instant::now() + timeout;
    let client = client.for_job(job);
    let name = &job.metadata.name;
    let follows_deployment = rollout::expects_deployment(job);
    let max_wait = if follows_deployment {
        DEPLOYMENT_POLL
    } else {
        MAX_WAIT
    };
    let mut index = 0i64;
    let mut last_error = None;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            lines.finish();
            return Outcome::TimedOut(last_error);
        }
        let wait = remaining.min(max_wait);
        let read = tokio::time::timeout(remaining + Duration::from_secs(5), async {
            let answer = client.watch_job(name, index, wait).await?;
            let deployments = if follows_deployment {
                client.job_deployments(name).await?.value
            } else {
                Vec::new()
            };
            anyhow::Ok((answer, deployments))
        })
        .await;
        match read {
            Ok(Ok((answer, deployments))) => {
                last_error = None;
                index = answer.index;
                let progress: Progress = evaluate(job, answer.value.status.as_ref(), baseline);
                let deployment = rollout::of_version(&deployments, job, &answer.value);
                let mut shown = progress.lines.clone();
                shown.extend(deployment.map(rollout::line));
                lines.show(&shown);
                if let Some(outcome) = ended(&progress, deployment.map(rollout::verdict)) {
                    lines.finish();
                    return outcome;
                }
            }
            Ok(Err(e)) => {
                // The server may be restarting: keep trying until the
                // deadline, reporting the error only if it lasts.
                last_error = Some(format!("{e:#}"));
                index = 0;
                tokio::time::sleep(Duration::from_secs(1).min(remaining)).await;
            }
            Err(_) => {}
        }
    }
}

/// How the follow ends, if it does now: the version's deployment decides
/// once there is one; a failure the allocations show needs no deployment.
/// A successful deployment still waits for the job's summary to agree
/// (it is written a moment later), so the last lines shown are true.
fn ended(progress: &Progress, deployment: Option<Verdict>) -> Option<Outcome> {
    match (deployment, &progress.failed) {
        (Some(Verdict::Failed(reason)), _) => Some(Outcome::Failed(reason)),
        (_, Some(reason)) => Some(Outcome::Failed(reason.clone())),
        (Some(Verdict::Successful), None) => progress.done.then_some(Outcome::Done),
        (Some(Verdict::AwaitingPromotion { id }), None) => Some(Outcome::AwaitingPromotion(id)),
        (Some(Verdict::InProgress), None) => None,
        (None, None) => progress.done.then_some(Outcome::Done),
    }
}

/// Where progress goes: live bars on a terminal, changed lines otherwise.
struct Display {
    multi: Option<MultiProgress>,
    prefix_job: bool,
}

impl Display {
    fn new(prefix_job: bool) -> Display {
        let multi = std::io::stdout().is_terminal().then(MultiProgress::new);
        Display { multi, prefix_job }
    }

    fn job(&self, job: &Job) -> JobLines {
        let prefix = if self.prefix_job {
            format!("{} ", job.metadata.name)
        } else {
            String::new()
        };
        let bars = self.multi.as_ref().map(|multi| {
            let style = ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            // One line per group, and one for the deployment.
            let rows = job.spec.groups.len() + usize::from(rollout::expects_deployment(job));
            (0..rows)
                .map(|_| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                })
                .collect()
        });
        JobLines {
            prefix,
            bars,
            last: std::cell::RefCell::new(Vec::new()),
        }
    }
}

struct JobLines {
    prefix: String,
    bars: Option<Vec<ProgressBar>>,
    last: std::cell::RefCell<Vec<String>>,
}

impl JobLines {
    fn show(&self, lines: &[String]) {
        let mut last = self.last.borrow_mut();
        match &self.bars {
            Some(bars) => {
                for (bar, line) in bars.iter().zip(lines) {
                    bar.set_message(format!("{}{line}", self.prefix));
                }
            }
            None => {
                for (i, line) in lines.iter().enumerate() {
                    if last.get(i) != Some(line) {
                        println!("{}{line}", self.prefix);
                    }
                }
            }
        }
        *last = lines.to_vec();
    }

    fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.iter().for_each(ProgressBar::finish);
        }
    }
}

/// `5m`, `90s`: the timeout as it was probably typed.
fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_is_not_followed_and_says_how_its_children_come() {
        let mut job = Job::named("report");
        assert_eq!(launch_hint(&job), None, "an ordinary job is followed");
        job.spec.periodic = Some(Default::default());
        let hint = launch_hint(&job).expect("a periodic parent");
        assert!(hint.contains("periodic") && hint.contains("drover periodic force report"));
        job.spec.periodic = None;
        job.spec.parameterized = Some(Default::default());
        let hint = launch_hint(&job).expect("a parameterized parent");
        assert!(hint.contains("drover dispatch report"), "{hint}");
        job.spec.stop = true;
        assert!(launch_hint(&job).expect("stopped").contains("stopped"));
        // A child is an ordinary job: followed.
        job.spec.stop = false;
        job.spec.parent_id = Some("report".into());
        assert_eq!(launch_hint(&job), None);
    }

    fn progress(done: bool, failed: Option<&str>) -> Progress {
        Progress {
            done,
            failed: failed.map(str::to_string),
            lines: Vec::new(),
        }
    }

    #[test]
    fn the_deployment_decides_once_there_is_one() {
        // Auto-revert: the old version runs again and nothing is outdated,
        // so the allocations alone look done; the deployment failed.
        let reverted = ended(
            &progress(true, None),
            Some(Verdict::Failed("deployment 1 failed".into())),
        );
        assert_eq!(
            reverted,
            Some(Outcome::Failed("deployment 1 failed".into()))
        );
        assert_eq!(
            ended(&progress(true, None), Some(Verdict::InProgress)),
            None
        );
        assert_eq!(
            ended(&progress(true, None), Some(Verdict::Successful)),
            Some(Outcome::Done)
        );
        // The summary lags the deployment by a moment.
        assert_eq!(
            ended(&progress(false, None), Some(Verdict::Successful)),
            None
        );
        let waiting = Verdict::AwaitingPromotion { id: "abc".into() };
        assert_eq!(
            ended(&progress(false, None), Some(waiting)),
            Some(Outcome::AwaitingPromotion("abc".into()))
        );
    }

    #[test]
    fn without_a_deployment_the_allocations_decide() {
        assert_eq!(ended(&progress(true, None), None), Some(Outcome::Done));
        assert_eq!(ended(&progress(false, None), None), None);
        // A placement failure needs no deployment to be final.
        assert_eq!(
            ended(
                &progress(false, Some("not placed")),
                Some(Verdict::InProgress)
            ),
            Some(Outcome::Failed("not placed".into()))
        );
    }

    #[test]
    fn timeouts_read_as_typed() {
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
        assert_eq!(humanize(Duration::from_secs(90)), "90s");
    }
}
