//! The checks of one allocation, running: one timer per check, each probe
//! bounded by its timeout, results sent to the allocation's worker (which
//! folds them into the status and applies `check_restart`). Dropping the
//! [`CheckSet`] stops every probe.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{exit_status, http_status, CheckSpec, Outcome, Probe, CRITICAL, PASSING};
use crate::driver::docker::Docker;
use crate::worker::Shared;

/// One result, for the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub id: String,
    pub outcome: Outcome,
}

/// The running probes of one allocation.
pub struct CheckSet {
    specs: Vec<CheckSpec>,
    tasks: JoinSet<()>,
}

impl CheckSet {
    /// Starts a probe loop per check; `alloc_id` names the containers
    /// script checks exec in (`<task>-<alloc_id>`).
    pub fn start(
        specs: Vec<CheckSpec>,
        alloc_id: &str,
        shared: Arc<Shared>,
        results: mpsc::UnboundedSender<CheckResult>,
    ) -> CheckSet {
        let mut tasks = JoinSet::new();
        let http = reqwest::Client::new();
        for spec in specs.clone() {
            let results = results.clone();
            let shared = shared.clone();
            let http = http.clone();
            let alloc_id = alloc_id.to_string();
            tasks.spawn(async move {
                let mut tick = tokio::time::interval(spec.interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let outcome = probe(&spec, &alloc_id, &shared.docker, &http).await;
                    let sent = results.send(CheckResult {
                        id: spec.id.clone(),
                        outcome,
                    });
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
        CheckSet { specs, tasks }
    }

    /// The checks this set runs.
    pub fn specs(&self) -> &[CheckSpec] {
        &self.specs
    }
}

impl Drop for CheckSet {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

async fn probe(
    spec: &CheckSpec,
    alloc_id: &str,
    docker: &Docker,
    http: &reqwest::Client,
) -> Outcome {
    let run = async {
        match &spec.probe {
            Probe::Http {
                url,
                method,
                headers,
                body,
                ..
            } => probe_http(http, url, method, headers, body).await,
            Probe::Tcp { addr } => match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => Outcome {
                    status: PASSING,
                    output: format!("TCP connect {addr}: Success"),
                },
                Err(e) => critical(format!("dial tcp {addr}: {e}")),
            },
            Probe::Script { task, command } => {
                let container = format!("{task}-{alloc_id}");
                match docker.exec(&container, command).await {
                    Ok((code, output)) => Outcome {
                        status: exit_status(code),
                        output,
                    },
                    Err(e) => critical(e.to_string()),
                }
            }
        }
    };
    match tokio::time::timeout(spec.timeout, run).await {
        Ok(outcome) => outcome,
        Err(_) => critical(format!("timed out after {}", humantime(spec.timeout))),
    }
}

/// The most of a check's response body that is read.
const MAX_BODY_READ: usize = 4096;

async fn probe_http(
    http: &reqwest::Client,
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: &str,
) -> Outcome {
    if url.starts_with("https://") {
        // This build's HTTP client has no TLS; say so rather than fail
        // obscurely.
        return critical("https checks are not supported by this agent yet; use http or tcp");
    }
    let method = match reqwest::Method::from_bytes(method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return critical(format!("{method:?} is not an HTTP method")),
    };
    let mut request = http.request(method.clone(), url);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    if !body.is_empty() {
        request = request.body(body.to_string());
    }
    match request.send().await {
        Ok(mut response) => {
            let code = response.status();
            // Only the start is shown: read no more than that, whatever the
            // service sends (a check runs every few seconds, forever).
            let mut head = Vec::new();
            while head.len() < MAX_BODY_READ {
                match response.chunk().await {
                    Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            head.truncate(MAX_BODY_READ);
            let snippet: String = String::from_utf8_lossy(&head).chars().take(256).collect();
            Outcome {
                status: http_status(code.as_u16()),
                output: format!("HTTP {method} {url}: {code} Output: {snippet}"),
            }
        }
        Err(e) => critical(format!("HTTP {method} {url}: {e}")),
    }
}

fn critical(output: impl Into<String>) -> Outcome {
    Outcome {
        status: CRITICAL,
        output: output.into(),
    }
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
