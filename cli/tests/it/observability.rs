//! The observability manifests against real tools: promtool accepts the
//! alert rules; VictoriaMetrics accepts the scrape config and, with it,
//! finds a real cluster's server and agent through drover's catalog; and a real
//! Prometheus scraping a cluster with a job running evaluates every
//! dashboard query and every rule, the core panels with data.

use crate::obs;

use std::process::Command;
use std::time::Duration;

use crate::common::{job_of, shell_task, Cluster};
use drover_api_types::alloc::ClientStatus;
use drover_api_types::group::{Check, Service};
use drover_test_support::wait::eventually;
use obs::{get_json, spawn, tool};
use serde_json::Value;

use crate::common;

#[test]
fn promtool_accepts_the_alert_rules() {
    let promtool = tool("DROVER_TEST_PROMTOOL", "/usr/bin/promtool");
    obs::run_ok(
        Command::new(promtool)
            .arg("check")
            .arg("rules")
            .arg(obs::rules_path()),
    );
}

/// What Grafana needs to import a dashboard file as it is: no `__inputs`
/// to answer, a recent schema, and every query reading the data source
/// picked in the `datasource` variable.
#[test]
fn dashboards_import_as_they_are() {
    let want = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    let mut uids = Vec::new();
    for (file, dash) in obs::dashboards() {
        assert!(dash.get("__inputs").is_none(), "{file}: __inputs");
        assert!(
            dash["schemaVersion"].as_i64() >= Some(38),
            "{file}: schemaVersion"
        );
        uids.push(dash["uid"].as_str().expect("a uid").to_string());
        let vars = dash["templating"]["list"].as_array().expect("templating");
        let ds = vars.iter().find(|v| v["name"] == "datasource");
        let ds = ds.unwrap_or_else(|| panic!("{file}: no datasource variable"));
        assert_eq!(
            (&ds["type"], &ds["query"]),
            (&"datasource".into(), &"prometheus".into())
        );
        for var in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(var["datasource"], want, "{file}: variable {}", var["name"]);
        }
        let mut ids = Vec::new();
        for panel in dash["panels"].as_array().expect("panels") {
            ids.push(panel["id"].as_i64().expect("a panel id"));
            if panel["type"] == "row" {
                continue;
            }
            assert_eq!(
                panel["datasource"], want,
                "{file}: panel {}",
                panel["title"]
            );
            let targets = panel["targets"].as_array().expect("targets");
            assert!(
                !targets.is_empty(),
                "{file}: panel {} has no query",
                panel["title"]
            );
            for target in targets {
                assert_eq!(
                    target["datasource"], want,
                    "{file}: panel {}",
                    panel["title"]
                );
            }
        }
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "{file}: panel ids repeat");
    }
    let count = uids.len();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), count, "dashboard uids repeat");
}

/// A running job with a passing script check, for the allocation and
/// check series.
async fn running_job(cluster: &Cluster) {
    let mut task = shell_task("main", "trap 'exit 0' TERM; sleep 3600 & wait");
    task.resources.memory = 48;
    task.resources.cpu = 100;
    task.services = vec![Service {
        name: "observed".into(),
        provider: "nomad".into(),
        checks: vec![Check {
            name: "ok".into(),
            check_type: "script".into(),
            command: "/bin/true".into(),
            interval: Duration::from_secs(1).into(),
            timeout: Duration::from_secs(1).into(),
            ..Default::default()
        }],
        ..Default::default()
    }];
    let job = job_of("observed", vec![task]);
    cluster.submit(&job).await;
    cluster
        .alloc_when("observed", &job.spec.groups[0].name, "running", |s| {
            s.client_status == ClientStatus::Running
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_finds_the_server_and_agent_through_the_catalog() {
    let vmagent = tool("DROVER_TEST_VMAGENT", "/usr/bin/vmagent");
    let vm = tool("DROVER_TEST_VICTORIA_METRICS", "/usr/bin/victoria-metrics");
    let cluster = Cluster::start("127.0.0.70").await;
    let agent = cluster.agent_addr().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    let token_file = dir.path().join("drover-scrape-token");
    std::fs::write(&token_file, cluster.scrape_token().await).expect("write token");
    std::fs::write(
        &config,
        obs::for_victoria_metrics(&cluster.server_addr, &token_file),
    )
    .expect("write");
    // Strict parsing: every field of the manifest (rule settings aside) is
    // one VictoriaMetrics knows, consul_sd_configs included.
    obs::run_ok(
        Command::new(vmagent)
            .arg(format!("-promscrape.config={}", config.display()))
            .arg("-dryRun"),
    );

    let port = obs::free_port();
    let args = [
        format!("-promscrape.config={}", config.display()),
        format!("-storageDataPath={}", dir.path().join("data").display()),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-promscrape.dropOriginalLabels=false".to_string(),
        "-promscrape.consulSDCheckInterval=1s".to_string(),
    ];
    let _vm = spawn(&vm, &args, &dir.path().join("vm.log"));
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/targets");
    let server = cluster.server_addr.as_str();
    let targets = eventually(
        60,
        "the server and agent discovered and scraped",
        || async {
            let body = get_json(&client, &url, &[]).await?;
            let active = body["data"]["activeTargets"].as_array()?.clone();
            let up = |job: &str, instance: &str| {
                active.iter().any(|t| {
                    t["labels"]["job"] == job
                        && t["labels"]["instance"] == instance
                        && t["health"] == "up"
                })
            };
            (up("drover-agents", &agent) && up("drover-servers", server)).then_some(active)
        },
    )
    .await;
    let agent_target = targets
        .iter()
        .find(|t| t["labels"]["job"] == "drover-agents")
        .expect("the agent's target");
    let labels = &agent_target["labels"];
    assert_eq!(labels["service"], "drover-agent", "{agent_target}");
    assert!(
        labels["node"].as_str().is_some_and(|n| !n.is_empty()),
        "{agent_target}"
    );
    assert!(
        labels["dc"].as_str().is_some_and(|d| !d.is_empty()),
        "{agent_target}"
    );
    let tags = agent_target["discoveredLabels"]["__meta_consul_tags"].as_str();
    assert_eq!(tags, Some(",http,metrics,"), "{agent_target}");
    let server_target = targets
        .iter()
        .find(|t| t["labels"]["job"] == "drover-servers")
        .expect("the server's target");
    assert_eq!(
        server_target["labels"]["service"], "drover",
        "{server_target}"
    );
    assert_eq!(
        server_target["discoveredLabels"]["__meta_consul_health"],
        "passing"
    );
    // Only drover's own processes are catalog targets: the job's service has no
    // `metrics` tag, so the services job keeps nothing.
    assert!(
        !targets
            .iter()
            .any(|t| t["labels"]["job"] == "drover-services"),
        "{targets:?}"
    );
}

/// Prometheus' answer to `promql` now: the result, or the error text.
async fn query(client: &reqwest::Client, base: &str, promql: &str) -> Result<Vec<Value>, String> {
    let url = format!("{base}/api/v1/query");
    let response = client
        .get(&url)
        .query(&[("query", promql)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(body.to_string());
    }
    Ok(body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// A Prometheus on a free loopback port scraping the cluster (static
/// targets: Debian's build has no Consul SD) with the manifest's rules.
fn start_prometheus(
    dir: &std::path::Path,
    server: &str,
    agent: &str,
    token: &str,
) -> (common::Proc, String) {
    let prometheus = tool("DROVER_TEST_PROMETHEUS", "/usr/bin/prometheus");
    let promtool = tool("DROVER_TEST_PROMTOOL", "/usr/bin/promtool");
    let config = dir.join("prometheus.yml");
    let token_file = dir.join("drover-scrape-token");
    std::fs::write(&token_file, token).expect("write token");
    std::fs::write(&config, obs::for_prometheus(server, agent, &token_file)).expect("write config");
    obs::run_ok(
        Command::new(promtool)
            .arg("check")
            .arg("config")
            .arg(&config),
    );
    let addr = format!("127.0.0.1:{}", obs::free_port());
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address={addr}"),
    ];
    let child = spawn(&prometheus, &args, &dir.join("prometheus.log"));
    (child, format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_evaluates_every_dashboard_query_and_rule() {
    let cluster = Cluster::start("127.0.0.71").await;
    let agent = cluster.agent_addr().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = cluster.scrape_token().await;
    let (_prometheus, base) = start_prometheus(dir.path(), &cluster.server_addr, &agent, &token);
    running_job(&cluster).await;
    let client = reqwest::Client::new();

    // The core panels have data once a few scrapes are in.
    let exprs = obs::every_expression();
    let core = [
        "Nodes by status",
        "Allocations by client status",
        "Reconcile rate by controller and result",
    ];
    for title in core {
        let panel = format!("panel \"{title}\"");
        let expr = exprs
            .iter()
            .find(|e| e.origin.ends_with(&panel))
            .unwrap_or_else(|| panic!("the dashboards lost the panel {title:?}"));
        eventually(60, title, || async {
            let result = query(&client, &base, &expr.promql).await.ok()?;
            (!result.is_empty()).then_some(())
        })
        .await;
    }

    let mut failures = Vec::new();
    for expr in &exprs {
        if let Err(e) = query(&client, &base, &expr.promql).await {
            failures.push(format!("{}: {}\n  {e}", expr.origin, expr.promql));
        }
    }
    assert!(
        failures.is_empty(),
        "queries failed:\n{}",
        failures.join("\n")
    );

    // The rules load and evaluate without error.
    let rules_url = format!("{base}/api/v1/rules");
    let rules = eventually(30, "the rules evaluated", || async {
        let body = get_json(&client, &rules_url, &[]).await?;
        let rules: Vec<Value> = body["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = !rules.is_empty() && rules.iter().all(|r| r["health"] != "unknown");
        evaluated.then_some(rules)
    })
    .await;
    let bad: Vec<&Value> = rules.iter().filter(|r| r["health"] != "ok").collect();
    assert!(bad.is_empty(), "rules with errors: {bad:?}");
    let nodes_down = rules.iter().find(|r| r["name"] == "DroverNodeDown");
    assert_eq!(
        nodes_down.map(|r| &r["state"]),
        Some(&Value::from("inactive"))
    );
}

/// The server records (`servers/<name>`) as a store read sees them:
/// name → advertised HTTP address.
async fn server_records(store: &drover_store::Store) -> Option<Vec<(String, String)>> {
    let list: Vec<drover_api_types::server::Server> = store
        .list_at(&store.keys().collection("servers"))
        .await
        .ok()?
        .items;
    Some(
        list.into_iter()
            .map(|s| (s.metadata.name, s.spec.http_addr))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_record_themselves_while_they_run() {
    let etcd = drover_test_support::TestEtcd::shared_or_spawn()
        .await
        .expect("etcd");
    let store = common::connect(etcd.endpoints.clone(), &etcd.prefix).await;
    let port = obs::free_port();
    let stopped_cleanly = common::drover(
        &etcd,
        &[
            "server",
            "--name=clean",
            &format!("--http-addr=127.0.0.1:{port}"),
            "--election-ttl=30s",
        ],
    );
    let mut killed = common::drover(
        &etcd,
        &[
            "server",
            "--name=killed",
            "--http-addr=0.0.0.0:0",
            "--advertise-http-addr=metrics.example:4646",
            "--election-ttl=2s",
        ],
    );
    let records = eventually(30, "both servers recorded", || async {
        let records = server_records(&store).await?;
        (records.len() == 2).then_some(records)
    })
    .await;
    assert!(
        records.contains(&("clean".into(), format!("127.0.0.1:{port}"))),
        "{records:?}"
    );
    assert!(
        records.contains(&("killed".into(), "metrics.example:4646".into())),
        "{records:?}"
    );

    // A clean stop revokes the lease: gone well before its 30 s TTL.
    let pid = stopped_cleanly.0.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    eventually(10, "the cleanly stopped server's record gone", || async {
        let records = server_records(&store).await?;
        (!records.iter().any(|(name, _)| name == "clean")).then_some(())
    })
    .await;
    // A killed server's record expires with its lease (2 s TTL).
    let _ = killed.0.kill();
    let _ = killed.0.wait();
    eventually(15, "the killed server's record expired", || async {
        server_records(&store).await?.is_empty().then_some(())
    })
    .await;
}
