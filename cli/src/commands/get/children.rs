//! Children of periodic and parameterized jobs in `drover get jobs`: each
//! launch is a job of its own, so a job that runs every minute would bury
//! everything else. They are hidden unless `--all-children`, and their
//! parent shows how many it has (live/all) in a CHILDREN column.

use std::collections::BTreeMap;

use drover_api_types::Job;

use super::job_status;

/// `(namespace, parent)` → (live children, all children).
pub type Children = BTreeMap<(String, String), (usize, usize)>;

/// Counts the children of every parent in `jobs` and, unless `keep`,
/// drops the children from the list.
pub fn split(jobs: Vec<Job>, keep: bool) -> (Vec<Job>, Children) {
    let mut counts = Children::new();
    for job in &jobs {
        if job.spec.is_parent() {
            counts
                .entry((job.metadata.namespace.clone(), job.metadata.name.clone()))
                .or_default();
        }
        if let Some(parent) = &job.spec.parent_id {
            let entry = counts
                .entry((job.metadata.namespace.clone(), parent.clone()))
                .or_default();
            entry.1 += 1;
            if job_status(job) != "dead" {
                entry.0 += 1;
            }
        }
    }
    let shown = if keep {
        jobs
    } else {
        jobs.into_iter()
            .filter(|j| j.spec.parent_id.is_none())
            .collect()
    };
    (shown, counts)
}

/// A job's CHILDREN cell: `live/all` for a parent, empty otherwise.
pub fn cell(children: &Children, job: &Job) -> String {
    let key = (job.metadata.namespace.clone(), job.metadata.name.clone());
    match children.get(&key) {
        Some((live, all)) => format!("{live}/{all}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::job::{JobStatus, Periodic};

    fn job(name: &str, parent: Option<&str>, status: &str) -> Job {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "apiVersion": "drover.io/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "batch"}
        }))
        .expect("job");
        job.spec.parent_id = parent.map(String::from);
        if parent.is_none() && name == "backup" {
            job.spec.periodic = Some(Periodic::default());
        }
        job.status = Some(JobStatus {
            status: status.into(),
            ..Default::default()
        });
        job
    }

    #[test]
    fn children_are_hidden_and_counted_on_their_parent() {
        let jobs = vec![
            job("backup", None, "running"),
            job("backup/periodic-1", Some("backup"), "dead"),
            job("backup/periodic-2", Some("backup"), "running"),
            job("web", None, "running"),
        ];
        let (shown, counts) = split(jobs.clone(), false);
        let names: Vec<&str> = shown.iter().map(|j| j.metadata.name.as_str()).collect();
        assert_eq!(names, ["backup", "web"]);
        assert_eq!(cell(&counts, &shown[0]), "1/2");
        assert_eq!(cell(&counts, &shown[1]), "");
        let (all, _) = split(jobs, true);
        assert_eq!(all.len(), 4);
    }
}
