use super::*;

fn job(name: &str, version: u64) -> JobRef {
    JobRef {
        namespace: "default".into(),
        job: name.into(),
        version,
        group: Some("g".into()),
    }
}

fn in_group(mut r: JobRef, group: Option<&str>) -> JobRef {
    r.group = group.map(str::to_string);
    r
}

fn set(refs: &[JobRef]) -> BTreeSet<JobRef> {
    refs.iter().cloned().collect()
}

const GRACE: Duration = Duration::from_secs(30);

#[test]
fn a_version_a_bound_allocation_runs_is_copied_once() {
    let now = Instant::now();
    let p = plan(
        &set(&[job("web", 1), job("api", 3)]),
        &set(&[job("api", 3)]),
        &BTreeMap::new(),
        now,
        GRACE,
    );
    assert_eq!(p.put, vec![job("web", 1)]);
    assert!(p.delete.is_empty());
    assert_eq!(p.recheck_in, None);
}

#[test]
fn an_unnamed_copy_waits_out_the_grace_then_goes() {
    let start = Instant::now();
    let first = plan(
        &set(&[job("web", 2)]),
        &set(&[job("web", 1), job("web", 2)]),
        &BTreeMap::new(),
        start,
        GRACE,
    );
    assert!(first.delete.is_empty(), "not at once: {first:?}");
    assert_eq!(first.recheck_in, Some(GRACE));
    let later = start + Duration::from_secs(10);
    let second = plan(
        &set(&[job("web", 2)]),
        &set(&[job("web", 1), job("web", 2)]),
        &first.unnamed_since,
        later,
        GRACE,
    );
    assert!(second.delete.is_empty());
    assert_eq!(second.recheck_in, Some(Duration::from_secs(20)));
    let after = start + GRACE;
    let third = plan(
        &set(&[job("web", 2)]),
        &set(&[job("web", 1), job("web", 2)]),
        &second.unnamed_since,
        after,
        GRACE,
    );
    assert_eq!(third.delete, vec![job("web", 1)]);
    assert!(third.unnamed_since.is_empty());
}

#[test]
fn a_copy_named_again_forgets_its_wait() {
    let start = Instant::now();
    let first = plan(
        &BTreeSet::new(),
        &set(&[job("web", 1)]),
        &BTreeMap::new(),
        start,
        GRACE,
    );
    let named = plan(
        &set(&[job("web", 1)]),
        &set(&[job("web", 1)]),
        &first.unnamed_since,
        start + Duration::from_secs(20),
        GRACE,
    );
    assert_eq!(named, CopyPlan::default());
    let unnamed_again = plan(
        &BTreeSet::new(),
        &set(&[job("web", 1)]),
        &named.unnamed_since,
        start + Duration::from_secs(40),
        GRACE,
    );
    assert!(unnamed_again.delete.is_empty(), "a fresh grace");
}

#[test]
fn each_group_a_node_runs_is_its_own_copy() {
    let now = Instant::now();
    let (a, b) = (
        in_group(job("web", 1), Some("a")),
        in_group(job("web", 1), Some("b")),
    );
    let p = plan(
        &set(&[a.clone(), b.clone()]),
        &set(&[a]),
        &BTreeMap::new(),
        now,
        GRACE,
    );
    assert_eq!(p.put, vec![b]);
}

#[test]
fn a_whole_job_copy_stays_while_its_version_is_named_then_goes() {
    let start = Instant::now();
    let whole = in_group(job("web", 1), None);
    let group = job("web", 1);
    let named = plan(
        &set(std::slice::from_ref(&group)),
        &set(&[whole.clone(), group.clone()]),
        &BTreeMap::new(),
        start + GRACE * 2,
        GRACE,
    );
    assert!(
        named.delete.is_empty() && named.unnamed_since.is_empty(),
        "{named:?}"
    );
    let first = plan(
        &set(&[job("web", 2)]),
        &set(&[whole.clone(), group.clone()]),
        &BTreeMap::new(),
        start,
        GRACE,
    );
    assert!(first.delete.is_empty());
    let later = plan(
        &set(&[job("web", 2)]),
        &set(&[whole.clone(), group.clone()]),
        &first.unnamed_since,
        start + GRACE,
        GRACE,
    );
    assert_eq!(later.delete, vec![whole, group]);
}
