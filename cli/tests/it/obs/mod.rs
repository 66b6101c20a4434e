//! What the observability tests share: the manifests under
//! `manifests/grafana` and `manifests/prometheus`, the PromQL they hold,
//! configs derived from them for a test cluster, and Prometheus and
//! VictoriaMetrics as child processes (killed on drop).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

use crate::common::Proc;

pub fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

pub fn rules_path() -> PathBuf {
    manifests().join("prometheus/rules.yml")
}

/// A binary from the environment variable `var`, else `default`. A tool
/// that cannot be run fails the test: `make test` installs them all, so a
/// missing one is a broken set-up, not a reason to pass untested.
pub fn tool(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    let runs = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        runs,
        "{path} cannot be run: `make test` installs it (scripts/ensure-deps.sh \
         --with-docker-tools: Debian's prometheus and victoria-metrics), or set {var}"
    );
    path
}

/// Runs `cmd`; panics with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `bin` with `args`, its output in `log`; killed on drop.
pub fn spawn(bin: &str, args: &[String], log: &Path) -> Proc {
    let file = std::fs::File::create(log).expect("log file");
    let err = file.try_clone().expect("log file");
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    Proc(child)
}

/// The manifest's scrape config, parsed.
pub fn scrape_config() -> Yaml {
    let path = manifests().join("prometheus/prometheus.yml");
    let text = std::fs::read_to_string(&path).expect("read prometheus.yml");
    serde_yaml_ng::from_str(&text).expect("prometheus.yml is YAML")
}

fn scrape_jobs(config: &mut Yaml) -> &mut Vec<Yaml> {
    config
        .get_mut("scrape_configs")
        .and_then(Yaml::as_sequence_mut)
        .expect("scrape_configs")
}

fn job_name(job: &Yaml) -> &str {
    job.get("job_name").and_then(Yaml::as_str).unwrap_or("")
}

/// Every `credentials_file` of the manifest pointed at `token_file`; the
/// manifest has one on each of drover's own scrape jobs.
fn use_token_file(config: &mut Yaml, token_file: &Path) {
    let mut pointed = 0;
    for job in scrape_jobs(config) {
        if let Some(auth) = job.get_mut("authorization") {
            auth["credentials_file"] = token_file.display().to_string().into();
            pointed += 1;
        }
    }
    assert_eq!(pointed, 2, "the servers' and agents' jobs carry the token");
}

/// The manifest for VictoriaMetrics pointed at `server`: every
/// `consul_sd_configs` server rewritten, the scrape token read from
/// `token_file`.
/// Prometheus' rule settings (`rule_files`, `evaluation_interval`) go:
/// VictoriaMetrics scrapes only, and its strict parser rejects them.
pub fn for_victoria_metrics(server: &str, token_file: &Path) -> String {
    let mut config = scrape_config();
    use_token_file(&mut config, token_file);
    if let Some(map) = config.as_mapping_mut() {
        map.remove("rule_files");
    }
    if let Some(global) = config.get_mut("global").and_then(Yaml::as_mapping_mut) {
        global.remove("evaluation_interval");
        global.insert("scrape_interval".into(), "1s".into());
    }
    for job in scrape_jobs(&mut config) {
        let servers = job
            .get_mut("consul_sd_configs")
            .and_then(Yaml::as_sequence_mut);
        for sd in servers.into_iter().flatten() {
            sd["server"] = server.into();
        }
    }
    serde_yaml_ng::to_string(&config).expect("encode config")
}

/// The manifest for a Prometheus without Consul SD (Debian's): the
/// catalog-discovered jobs become static targets of the test cluster's
/// server and agent (the services job, with nothing to find, goes), scraped every
/// second, with the manifest's rules.
pub fn for_prometheus(server: &str, agent: &str, token_file: &Path) -> String {
    let mut config = scrape_config();
    use_token_file(&mut config, token_file);
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    config["rule_files"] = Yaml::Sequence(vec![rules_path().display().to_string().into()]);
    let jobs = scrape_jobs(&mut config);
    jobs.retain(|job| job_name(job) != "drover-services");
    for job in jobs.iter_mut() {
        let targets = if job_name(job) == "drover-servers" {
            server
        } else {
            agent
        };
        if let Some(map) = job.as_mapping_mut() {
            map.remove("consul_sd_configs");
        }
        job["static_configs"] = static_targets(&[targets]);
    }
    serde_yaml_ng::to_string(&config).expect("encode config")
}

fn static_targets(targets: &[&str]) -> Yaml {
    let list: Vec<Yaml> = targets.iter().map(|t| (*t).into()).collect();
    let mut entry = serde_yaml_ng::Mapping::new();
    entry.insert("targets".into(), Yaml::Sequence(list));
    Yaml::Sequence(vec![Yaml::Mapping(entry)])
}

/// One PromQL expression from a manifest and where it is from.
#[derive(Debug, Clone)]
pub struct Expr {
    pub origin: String,
    pub promql: String,
}

/// Every dashboard under `manifests/grafana`, by file name.
pub fn dashboards() -> Vec<(String, Value)> {
    let dir = manifests().join("grafana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("manifests/grafana")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dir.display());
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("read dashboard");
            let dash: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
            let name = file.file_name().map(|n| n.to_string_lossy().to_string());
            (name.unwrap_or_default(), dash)
        })
        .collect()
}

/// Every dashboard's panel and variable queries, and every rule's expr,
/// with Grafana's variables replaced by what Grafana would send.
pub fn every_expression() -> Vec<Expr> {
    let mut out = Vec::new();
    for (name, dash) in dashboards() {
        dashboard_exprs(&dash, &name, &mut out);
    }
    let rules: Yaml =
        serde_yaml_ng::from_str(&std::fs::read_to_string(rules_path()).expect("read rules.yml"))
            .expect("rules.yml is YAML");
    for group in rules["groups"].as_sequence().into_iter().flatten() {
        for rule in group["rules"].as_sequence().into_iter().flatten() {
            let name = rule["alert"].as_str().or(rule["record"].as_str());
            let expr = rule["expr"].as_str().expect("a rule's expr");
            out.push(Expr {
                origin: format!("rules.yml {}", name.unwrap_or("?")),
                promql: expr.to_string(),
            });
        }
    }
    out
}

fn dashboard_exprs(dash: &Value, file: &str, out: &mut Vec<Expr>) {
    let panels = dash["panels"].as_array().into_iter().flatten();
    // Rows may hold collapsed panels of their own.
    let nested = panels
        .clone()
        .flat_map(|p| p["panels"].as_array().into_iter().flatten());
    for panel in panels.chain(nested) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(Expr {
                    origin: format!("{file} panel {}", panel["title"]),
                    promql: substitute(expr),
                });
            }
        }
    }
    for var in dash["templating"]["list"].as_array().into_iter().flatten() {
        if var["type"] != "query" {
            continue;
        }
        let query = var["query"]["query"].as_str().or(var["query"].as_str());
        let query = query.expect("a query variable's query");
        out.push(Expr {
            origin: format!("{file} variable {}", var["name"]),
            promql: label_values_as_promql(&substitute(query)),
        });
    }
}

/// Grafana's variables as Grafana would fill them: the rate interval at
/// least four scrapes (of 1 s here), "All" for the multi-value ones.
pub fn substitute(expr: &str) -> String {
    let mut s = expr
        .replace("$__rate_interval", "10s")
        .replace("$__interval", "1s")
        .replace("$__range", "1m");
    for var in ["namespace", "drover_job", "controller", "service"] {
        s = s
            .replace(&format!("${{{var}}}"), ".*")
            .replace(&format!("${var}"), ".*");
    }
    s
}

/// `label_values(selector, label)` is Grafana's, not PromQL: the same
/// series, grouped by the label, is what it asks Prometheus for.
fn label_values_as_promql(query: &str) -> String {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'));
    match inner.and_then(|q| q.rsplit_once(',')) {
        Some((selector, label)) => format!("count by ({}) ({selector})", label.trim()),
        None => query.to_string(),
    }
}

/// GET `url` as JSON; `None` on any failure (the caller polls).
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    query: &[(&str, &str)],
) -> Option<Value> {
    let response = client.get(url).query(query).send().await.ok()?;
    response.json().await.ok()
}
