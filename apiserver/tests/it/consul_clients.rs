//! Real Consul clients against drover's Consul-compatible API: py-consul
//! (catalog, health, KV) and Prometheus' `consul_sd_configs` (the
//! `__meta_consul_*` labels its targets get), run by Prometheus when it is
//! built with Consul SD and by VictoriaMetrics always. Both read the scene of
//! `common::Server::scene`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use drover_test_support::wait::eventually;
use serde_json::Value;

use crate::common;

#[tokio::test]
async fn py_consul_reads_the_catalog_and_uses_kv() {
    let s = common::start().await;
    s.scene().await;
    let addr = s.addr;
    let stdout = common::python_client(
        "py_consul.py",
        vec![addr.ip().to_string(), addr.port().to_string()],
    )
    .await;
    assert!(stdout.contains("py-consul: ok"), "{stdout}");
}

/// Kills the child when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A target's discovered labels, by `__meta_consul_service_id`.
fn targets(body: &Value) -> std::collections::BTreeMap<String, Value> {
    body["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let labels = &t["discoveredLabels"];
            let id = labels["__meta_consul_service_id"].as_str()?;
            Some((id.to_string(), labels.clone()))
        })
        .collect()
}

/// Whether `prometheus` was built with Consul service discovery: Debian's
/// package (bookworm, 2.42) disables it ("Disable Consul SD until its
/// Debian package is back in shape"), and its config parser then refuses
/// `consul_sd_configs`. `promtool` from the same build says so too.
fn prometheus_has_consul_sd(dir: &std::path::Path) -> Result<(), String> {
    let config = dir.join("probe.yml");
    std::fs::write(
        &config,
        "scrape_configs:\n  - job_name: probe\n    consul_sd_configs:\n      - server: '127.0.0.1:1'\n",
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(promtool())
        .args(["check", "config"])
        .arg(&config)
        .output()
        .map_err(|e| format!("running {}: {e}", promtool()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `DROVER_TEST_PROMETHEUS` names another build (with Consul SD) to run.
fn prometheus() -> String {
    std::env::var("DROVER_TEST_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into())
}

fn promtool() -> String {
    std::env::var("DROVER_TEST_PROMTOOL").unwrap_or_else(|_| "/usr/bin/promtool".into())
}

#[tokio::test]
async fn prometheus_discovers_services_through_consul_sd() {
    let probe = tempfile::tempdir().expect("tempdir");
    if let Err(why) = prometheus_has_consul_sd(probe.path()) {
        // Not a pass: VictoriaMetrics' scraper runs the same discovery in
        // the test below, and the emulation test replays Prometheus' own
        // requests; this one needs a Prometheus built with Consul SD.
        eprintln!(
            "SKIPPED prometheus_discovers_services_through_consul_sd: {} lacks consul_sd_configs \
             (set DROVER_TEST_PROMETHEUS and DROVER_TEST_PROMTOOL to a build with it): {why}",
            prometheus()
        );
        return;
    }
    discovers_services_through_consul_sd(Scraper::Prometheus).await;
}

/// VictoriaMetrics (Debian's `victoria-metrics`, installed by `make test`)
/// reads the same `consul_sd_configs` and gives its targets the same
/// `__meta_consul_*` labels as Prometheus: the real-scraper run that
/// Debian's Prometheus, built without Consul SD, cannot give.
#[tokio::test]
async fn victoria_metrics_discovers_services_through_consul_sd() {
    discovers_services_through_consul_sd(Scraper::VictoriaMetrics).await;
}

enum Scraper {
    Prometheus,
    VictoriaMetrics,
}

impl Scraper {
    fn start(&self, config: &std::path::Path, data: &std::path::Path, port: u16) -> Command {
        match self {
            Scraper::Prometheus => {
                let mut c = Command::new(prometheus());
                c.arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"));
                c
            }
            Scraper::VictoriaMetrics => {
                let mut c = Command::new("victoria-metrics");
                c.arg(format!("-promscrape.config={}", config.display()))
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    // Keep the discovered labels for /api/v1/targets.
                    .arg("-promscrape.dropOriginalLabels=false")
                    .arg("-promscrape.consulSDCheckInterval=1s");
                c
            }
        }
    }
}

async fn discovers_services_through_consul_sd(scraper: Scraper) {
    let s = common::start().await;
    s.scene().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("scrape.yml");
    // Prometheus re-reads the catalog every refresh_interval; VictoriaMetrics
    // follows it with blocking queries and has no such field.
    let refresh = match scraper {
        Scraper::Prometheus => "\n        refresh_interval: 1s",
        Scraper::VictoriaMetrics => "",
    };
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1h\n\
             scrape_configs:\n  - job_name: drover\n    consul_sd_configs:\n      \
             - server: '{}'{refresh}\n",
            s.addr
        ),
    )
    .expect("config");
    let port = free_port();
    let child = scraper
        .start(&config, &dir.path().join("data"), port)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("prometheus.log")).expect("log"),
        ))
        .spawn()
        .expect("the scraper starts (make test installs it)");
    let _guard = KillOnDrop(child);
    let url = format!("http://127.0.0.1:{port}/api/v1/targets");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    // The agent's datacenter is dc1 (most nodes), so dc2's web-4 is not
    // discovered, as Prometheus asks for its agent's datacenter only.
    let mut last = Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let found = loop {
        if let Ok(r) = http.get(&url).send().await {
            last = r.json().await.unwrap_or(Value::Null);
        }
        let found = targets(&last);
        if found.keys().collect::<Vec<_>>() == ["db-1", "web-1", "web-2", "web-3"] {
            break found;
        }
        if tokio::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("prometheus.log"));
            panic!("Prometheus did not discover web-1..3 and db-1: {last}\n{log:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    let web1 = &found["web-1"];
    let label = |t: &Value, name: &str| t[name].as_str().map(str::to_string);
    assert_eq!(
        label(web1, "__meta_consul_service").as_deref(),
        Some("web"),
        "{web1}\n{log}"
    );
    assert_eq!(
        label(web1, "__meta_consul_tags").as_deref(),
        Some(",http,v2,")
    );
    assert_eq!(
        label(web1, "__meta_consul_service_port").as_deref(),
        Some("8001")
    );
    assert_eq!(
        label(web1, "__meta_consul_service_address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        label(web1, "__meta_consul_address").as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(label(web1, "__meta_consul_node").as_deref(), Some("alpha"));
    assert_eq!(label(web1, "__meta_consul_dc").as_deref(), Some("dc1"));
    assert_eq!(
        label(web1, "__meta_consul_health").as_deref(),
        Some("passing")
    );
    assert_eq!(
        label(web1, "__meta_consul_namespace").as_deref(),
        Some("default")
    );
    assert_eq!(
        label(web1, "__meta_consul_service_metadata_version").as_deref(),
        Some("2")
    );
    assert_eq!(
        label(web1, "__meta_consul_metadata_rack").as_deref(),
        Some("rack-alpha")
    );
    assert_eq!(
        label(web1, "__address__").as_deref(),
        Some("127.0.0.1:8001")
    );
    assert_eq!(
        label(&found["web-3"], "__meta_consul_health").as_deref(),
        Some("warning")
    );
    assert_eq!(
        label(&found["web-2"], "__meta_consul_health").as_deref(),
        Some("critical"),
        "web-2's node is down"
    );

    // A new instance shows up through the blocking queries.
    s.service(
        "default",
        "web-9",
        "web",
        ("n-alpha", "alpha"),
        8009,
        &["http"],
        &["passing"],
    )
    .await;
    eventually(60, "Prometheus to discover web-9", || async {
        let body: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
        targets(&body).contains_key("web-9").then_some(())
    })
    .await;
}

/// Consul's `HealthChecks.AggregatedStatus`, as Prometheus labels health.
fn aggregated_status(checks: &Value) -> &'static str {
    let statuses: Vec<&str> = checks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Status"].as_str())
        .collect();
    if statuses
        .iter()
        .any(|s| *s == "critical" || *s == "maintenance")
    {
        "critical"
    } else if statuses.contains(&"warning") {
        "warning"
    } else {
        "passing"
    }
}

/// What Prometheus' consul discovery (discovery/consul/consul.go) does, as
/// requests and label building: the agent's datacenter from
/// `/v1/agent/self`, the service list from `/v1/catalog/services`, then per
/// service a blocking `/v1/health/service/<name>` (Consul's Go client sends
/// `wait` in milliseconds and `stale`), each target labelled from
/// `Node`, `Service` and `Checks`. Runs where no Prometheus build with
/// Consul SD is at hand.
#[tokio::test]
async fn prometheus_consul_sd_requests_yield_its_labels() {
    let s = common::start().await;
    s.scene().await;
    let agent = s.json("/v1/agent/self").await;
    let dc = agent["Config"]["Datacenter"]
        .as_str()
        .expect("Config.Datacenter")
        .to_string();
    assert_eq!(dc, "dc1");

    let (status, services_index, body) = s
        .consul_get(&format!("/v1/catalog/services?dc={dc}&stale="))
        .await;
    assert_eq!(status, 200);
    assert!(services_index > 0, "Prometheus needs an index to block on");
    let services: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&body).expect("map of name to tags");
    assert_eq!(services.keys().collect::<Vec<_>>(), ["db", "web"]);

    let mut targets = std::collections::BTreeMap::new();
    let mut web_index = 0;
    for name in services.keys() {
        let (status, index, body) = s
            .consul_get(&format!(
                "/v1/health/service/{name}?dc={dc}&stale=&wait=120000ms"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        if name == "web" {
            web_index = index;
        }
        let entries: Vec<Value> = serde_json::from_str(&body).expect("entries");
        for e in entries {
            let (node, service) = (&e["Node"], &e["Service"]);
            let address = match service["Address"].as_str() {
                Some(a) if !a.is_empty() => a,
                _ => node["Address"].as_str().expect("Node.Address"),
            };
            let port = service["Port"].as_u64().expect("Service.Port");
            let tags: Vec<&str> = service["Tags"]
                .as_array()
                .expect("Service.Tags")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let mut labels = std::collections::BTreeMap::from([
                ("__address__".to_string(), format!("{address}:{port}")),
                ("__meta_consul_service".into(), name.clone()),
                ("__meta_consul_dc".into(), dc.clone()),
                (
                    "__meta_consul_address".into(),
                    node["Address"].as_str().unwrap_or("").into(),
                ),
                (
                    "__meta_consul_node".into(),
                    node["Node"].as_str().unwrap_or("").into(),
                ),
                ("__meta_consul_tags".into(), format!(",{},", tags.join(","))),
                (
                    "__meta_consul_service_address".into(),
                    service["Address"].as_str().unwrap_or("").into(),
                ),
                ("__meta_consul_service_port".into(), port.to_string()),
                (
                    "__meta_consul_service_id".into(),
                    service["ID"].as_str().unwrap_or("").into(),
                ),
                (
                    "__meta_consul_namespace".into(),
                    service["Namespace"].as_str().unwrap_or("").into(),
                ),
                (
                    "__meta_consul_health".into(),
                    aggregated_status(&e["Checks"]).into(),
                ),
            ]);
            for (prefix, map) in [
                ("__meta_consul_metadata_", &node["Meta"]),
                ("__meta_consul_service_metadata_", &service["Meta"]),
                ("__meta_consul_tagged_address_", &node["TaggedAddresses"]),
            ] {
                for (k, v) in map.as_object().expect("a map") {
                    labels.insert(format!("{prefix}{k}"), v.as_str().unwrap_or("").into());
                }
            }
            targets.insert(labels["__meta_consul_service_id"].clone(), labels);
        }
    }
    assert_eq!(
        targets.keys().collect::<Vec<_>>(),
        ["db-1", "web-1", "web-2", "web-3"],
        "dc2's web-4 is another datacenter"
    );
    let web1 = &targets["web-1"];
    for (label, want) in [
        ("__address__", "127.0.0.1:8001"),
        ("__meta_consul_service", "web"),
        ("__meta_consul_tags", ",http,v2,"),
        ("__meta_consul_service_port", "8001"),
        ("__meta_consul_service_address", "127.0.0.1"),
        ("__meta_consul_address", "10.0.0.1"),
        ("__meta_consul_node", "alpha"),
        ("__meta_consul_dc", "dc1"),
        ("__meta_consul_health", "passing"),
        ("__meta_consul_namespace", "default"),
        ("__meta_consul_metadata_rack", "rack-alpha"),
        ("__meta_consul_service_metadata_version", "2"),
        ("__meta_consul_tagged_address_lan", "10.0.0.1"),
    ] {
        assert_eq!(web1.get(label).map(String::as_str), Some(want), "{label}");
    }
    assert_eq!(targets["web-3"]["__meta_consul_health"], "warning");
    assert_eq!(
        targets["web-2"]["__meta_consul_health"], "critical",
        "beta is down"
    );

    // The next round blocks on the index and wakes on a change.
    let path = format!("/v1/health/service/web?dc={dc}&stale=&wait=120000ms&index={web_index}");
    let reader = s.consul_get(&path);
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.service(
            "default",
            "web-9",
            "web",
            ("n-alpha", "alpha"),
            8009,
            &[],
            &[],
        )
        .await;
    };
    let ((status, index, body), ()) = tokio::join!(reader, writer);
    assert_eq!(status, 200);
    assert!(index > web_index);
    assert!(body.contains("web-9"));
}
