//! The job-file corpus under `testdata/`, and the seed jobs in `manifests/examples`.
//!
//! - `testdata/valid/*`: load without errors; a `<file>.warnings` beside one
//!   lists the exact warnings expected (one per line), otherwise none.
//! - `testdata/invalid/*`: fail to load; `<file>.expected` holds the exact
//!   diagnostics, one per line, as `drover validate` prints them.
//! - `testdata/pairs/<name>.nomad` and `<name>.yaml`: the same job.
//!
//! Every valid job also survives Job → YAML → Job unchanged.

use std::path::{Path, PathBuf};

use drover_api_types::jobspec::{load_file, yaml, Loaded, ParseOptions};

const JOB_EXTENSIONS: [&str; 5] = ["nomad", "hcl", "yaml", "yml", "json"];

/// Job files directly in `dir`, relative to the crate root, sorted.
fn job_files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| JOB_EXTENSIONS.contains(&e))
    });
    files.sort();
    files
}

/// Paths in messages are relative to the crate, so expectations are stable.
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

fn load(path: &Path) -> Result<Loaded, Vec<String>> {
    load_file(&relative(path), &ParseOptions::default())
        .map_err(|diags| diags.iter().map(ToString::to_string).collect())
}

fn sidecar(path: &Path, suffix: &str) -> Option<String> {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::fs::read_to_string(PathBuf::from(name)).ok()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn assert_round_trips(path: &Path, loaded: &Loaded) {
    for job in &loaded.jobs {
        let text =
            yaml::to_yaml(job).unwrap_or_else(|e| panic!("{}: to_yaml: {e}", path.display()));
        let back =
            drover_api_types::jobspec::parse_str("roundtrip.yaml", &text, &ParseOptions::default())
                .unwrap_or_else(|e| panic!("{}: re-parse failed: {e:?}\n{text}", path.display()));
        assert_eq!(back.jobs.len(), 1);
        assert_eq!(
            &back.jobs[0],
            job,
            "{}: Job → YAML → Job changed the job",
            path.display()
        );
    }
}

fn chdir_to_crate() {
    // load_file gets relative paths; resolve them from the crate root.
    let _ = std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"));
}

#[test]
fn valid_corpus_loads_and_round_trips() {
    chdir_to_crate();
    let files = job_files("testdata/valid");
    assert!(
        files.len() >= 17,
        "the valid corpus shrank to {} files",
        files.len()
    );
    for path in files {
        let loaded = load(&path)
            .unwrap_or_else(|e| panic!("{} should load:\n{}", path.display(), e.join("\n")));
        assert!(!loaded.jobs.is_empty(), "{}: no job", path.display());
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        let expected = sidecar(&path, ".warnings")
            .map(|t| lines(&t))
            .unwrap_or_default();
        assert_eq!(warnings, expected, "{}: warnings differ", path.display());
        assert_round_trips(&path, &loaded);
    }
}

#[test]
fn invalid_corpus_fails_with_the_expected_messages() {
    chdir_to_crate();
    let files = job_files("testdata/invalid");
    assert!(
        files.len() >= 8,
        "the invalid corpus shrank to {} files",
        files.len()
    );
    for path in files {
        let expected = sidecar(&path, ".expected")
            .unwrap_or_else(|| panic!("{} has no .expected file", path.display()));
        match load(&path) {
            Ok(_) => panic!("{} should fail to load", path.display()),
            Err(got) => assert_eq!(
                got,
                lines(&expected),
                "{}: diagnostics differ",
                path.display()
            ),
        }
    }
}

#[test]
fn hcl_and_yaml_forms_give_equal_jobs() {
    chdir_to_crate();
    let hcl_files = job_files("testdata/pairs");
    let hcl_files: Vec<&PathBuf> = hcl_files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "nomad"))
        .collect();
    assert!(hcl_files.len() >= 3, "expected at least 3 HCL/YAML pairs");
    for hcl_path in hcl_files {
        let yaml_path = hcl_path.with_extension("yaml");
        let from_hcl =
            load(hcl_path).unwrap_or_else(|e| panic!("{}: {}", hcl_path.display(), e.join("\n")));
        let from_yaml = load(&yaml_path)
            .unwrap_or_else(|e| panic!("{}: {}", yaml_path.display(), e.join("\n")));
        assert_eq!(
            from_hcl.jobs,
            from_yaml.jobs,
            "{} and its YAML twin differ",
            hcl_path.display()
        );
    }
}

#[test]
fn seed_jobs_parse_and_validate() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/examples");
    let files = job_files("../manifests/examples");
    assert!(
        files.len() >= 4,
        "expected the seed jobs in {}",
        shared.display()
    );
    for path in files {
        let loaded = load_file(&path, &ParseOptions::default()).unwrap_or_else(|e| {
            panic!(
                "{}:\n{}",
                path.display(),
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert_eq!(loaded.jobs.len(), 1);
        assert_round_trips(&path, &loaded);
    }
}
