//! What the deployment of the applied version says about the apply (pure).
//!
//! A service job's version rolls out as a deployment, which is the only
//! place health, canaries and auto-revert show: allocations counted alone
//! would call a reverted rollout done (the old version runs again, nothing
//! outdated) and wait out the timeout for canaries that need a promotion.
//! So once the version has a deployment, it decides when the apply ends.

use drover_api::deployments::DeploymentView;
use drover_api_types::deployment::DeploymentState;
use drover_api_types::Job;

use crate::commands::output::short_id as short;

/// Where the applied version's deployment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Running or paused: keep following.
    InProgress,
    Successful,
    /// Every canary is healthy; an operator has to promote them.
    AwaitingPromotion {
        id: String,
    },
    Failed(String),
}

/// Whether `job`'s version gets a deployment at all: the job controller's
/// own rule, so the apply never waits for one that will not come.
pub use drover_api_types::deployment::deploys as expects_deployment;

/// The deployment of exactly `applied`'s version, if it was created: of
/// the job the server holds (`current`), not one that a purged job of the
/// same name left.
pub fn of_version<'a>(
    deployments: &'a [DeploymentView],
    applied: &Job,
    current: &Job,
) -> Option<&'a DeploymentView> {
    deployments.iter().find(|d| {
        d.spec.job_id == applied.metadata.name
            && d.spec.job_version == applied.metadata.version
            && d.spec.of_same_job(current)
    })
}

pub fn verdict(d: &DeploymentView) -> Verdict {
    let id = short(d.id());
    let why = |what: &str| match d.status.description.as_str() {
        "" => format!("deployment {id} {what}"),
        description => format!("deployment {id} {what}: {description}"),
    };
    match d.state() {
        DeploymentState::Running | DeploymentState::Paused => Verdict::InProgress,
        DeploymentState::Successful => Verdict::Successful,
        DeploymentState::Blocked => Verdict::AwaitingPromotion { id: id.to_string() },
        DeploymentState::Failed => Verdict::Failed(why("failed")),
        DeploymentState::Cancelled => Verdict::Failed(why("was cancelled")),
    }
}

/// `deployment 1a2b3c4d running: front 1/2 healthy, 1/1 canaries`.
pub fn line(d: &DeploymentView) -> String {
    let groups: Vec<String> = d
        .spec
        .groups
        .iter()
        .map(|(name, spec)| {
            let status = d.status.groups.get(name).cloned().unwrap_or_default();
            let mut text = format!("{name} {}/{} healthy", status.healthy, spec.desired_total);
            if spec.desired_canaries > 0 {
                text.push_str(&format!(
                    ", {}/{} canaries",
                    status.placed_canaries.len(),
                    spec.desired_canaries
                ));
            }
            if status.unhealthy > 0 {
                text.push_str(&format!(", {} unhealthy", status.unhealthy));
            }
            text
        })
        .collect();
    let mut text = format!("deployment {} {}", short(d.id()), d.state().as_str());
    if !groups.is_empty() {
        text.push_str(&format!(": {}", groups.join("; ")));
    }
    if d.state() == DeploymentState::Paused {
        text.push_str(&format!(" (drover deployment resume {})", short(d.id())));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::deployment::{DeploymentGroupSpec, DeploymentGroupStatus};
    use drover_api_types::{Deployment, JobType};

    fn job(name: &str, version: u64) -> Job {
        let mut job = Job::named(name);
        job.metadata.version = version;
        job.spec.job_type = JobType::Service;
        job
    }

    fn deployment(job: &str, version: u64, state: DeploymentState) -> DeploymentView {
        let mut d = Deployment::default();
        d.metadata.uid = format!("0123456789abcdef-{job}-{version}");
        d.spec.job_id = job.into();
        d.spec.job_version = version;
        d.spec.groups.insert(
            "front".into(),
            DeploymentGroupSpec {
                desired_total: 2,
                desired_canaries: 1,
                ..Default::default()
            },
        );
        d.status.state = state;
        d.status.groups.insert(
            "front".into(),
            DeploymentGroupStatus {
                placed_canaries: vec!["c1".into()],
                healthy: 1,
                ..Default::default()
            },
        );
        DeploymentView::new(d, None)
    }

    #[test]
    fn only_the_applied_versions_deployment_counts() {
        let mut list = vec![
            deployment("web", 2, DeploymentState::Running),
            deployment("api", 1, DeploymentState::Running),
            deployment("web", 0, DeploymentState::Successful),
        ];
        assert!(of_version(&list, &job("web", 1), &job("web", 1)).is_none());
        let found = of_version(&list, &job("web", 2), &job("web", 2)).map(|d| d.spec.job_version);
        assert_eq!(found, Some(2));
        // A job purged and registered again is another job (another uid):
        // the old job's deployment of the same version is not its own.
        list[0].spec.job_uid = "old-uid".into();
        let mut again = job("web", 2);
        again.metadata.uid = "new-uid".into();
        assert!(of_version(&list, &again, &again).is_none());
        again.metadata.uid = "old-uid".into();
        assert!(of_version(&list, &again, &again).is_some());
    }

    #[test]
    fn a_failed_deployment_fails_the_apply_with_its_description() {
        let mut d = deployment("web", 1, DeploymentState::Failed);
        d.status.description =
            "Failed due to unhealthy allocations - rolling back to job version 0".into();
        assert_eq!(
            verdict(&d),
            Verdict::Failed(
                "deployment 01234567 failed: Failed due to unhealthy allocations - \
                 rolling back to job version 0"
                    .into()
            )
        );
        let cancelled = deployment("web", 1, DeploymentState::Cancelled);
        assert_eq!(
            verdict(&cancelled),
            Verdict::Failed("deployment 01234567 was cancelled".into())
        );
    }

    #[test]
    fn healthy_canaries_end_the_apply_waiting_for_promotion() {
        let d = deployment("web", 1, DeploymentState::Blocked);
        assert_eq!(
            verdict(&d),
            Verdict::AwaitingPromotion {
                id: "01234567".into()
            }
        );
        assert_eq!(
            verdict(&deployment("web", 1, DeploymentState::Paused)),
            Verdict::InProgress
        );
        assert_eq!(
            verdict(&deployment("web", 1, DeploymentState::Successful)),
            Verdict::Successful
        );
    }

    #[test]
    fn the_line_shows_health_and_canaries_per_group() {
        let d = deployment("web", 1, DeploymentState::Running);
        assert_eq!(
            line(&d),
            "deployment 01234567 running: front 1/2 healthy, 1/1 canaries"
        );
        let paused = deployment("web", 1, DeploymentState::Paused);
        assert!(line(&paused).ends_with("(drover deployment resume 01234567)"));
    }
}
