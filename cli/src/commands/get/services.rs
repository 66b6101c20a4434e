//! `drover get services [NAME]`: the service catalog as operators look at
//! it — per service, how many instances and how many of them pass; for
//! one service, each instance with its node, address, health and job.
//!
//! It reads Nomad's service API (`/v1/services`, `/v1/service/{name}`: the
//! registrations, their allocations and jobs) and Consul's health API
//! (`/v1/health/service/{name}`: the check results, node health included),
//! and joins them by registration id. `-o json` prints the joined rows.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::client::{segment, Client, Indexed};
use super::super::output::{list_or_none, short_id, Style, Table};

/// The worst of a health entry's check statuses, as Consul aggregates them
/// (an entry without checks passes).
pub fn worst_status(checks: &Value) -> &'static str {
    let mut worst = "passing";
    for status in checks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Status"].as_str())
    {
        worst = match (worst, status) {
            (_, "critical") | ("critical", _) => "critical",
            (_, "warning") | ("warning", _) => "warning",
            (w, "passing") => w,
            // Consul treats an unknown status as failing.
            _ => "critical",
        };
    }
    worst
}

/// One service's summary row from its health entries.
pub fn summary_row(namespace: &str, name: &str, tags: &Value, entries: &[Value]) -> Value {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in entries {
        *counts.entry(worst_status(&entry["Checks"])).or_default() += 1;
    }
    json!({
        "namespace": namespace,
        "name": name,
        "tags": tags,
        "instances": entries.len(),
        "passing": counts.get("passing").copied().unwrap_or(0),
        "warning": counts.get("warning").copied().unwrap_or(0),
        "critical": counts.get("critical").copied().unwrap_or(0),
    })
}

/// One instance row: the registration joined with its health entry.
pub fn instance_row(registration: &Value, health: Option<&Value>) -> Value {
    let checks: Vec<Value> = health
        .and_then(|h| h["Checks"].as_array())
        .into_iter()
        .flatten()
        .map(|c| json!({"name": c["Name"], "status": c["Status"], "output": c["Output"]}))
        .collect();
    let status = health.map_or("unknown", |h| worst_status(&h["Checks"]));
    json!({
        "id": registration["ID"],
        "namespace": registration["Namespace"],
        "service": registration["ServiceName"],
        "job": registration["JobID"],
        "alloc_id": registration["AllocID"],
        "node": health.map_or(Value::Null, |h| h["Node"]["Node"].clone()),
        "node_id": registration["NodeID"],
        "address": registration["Address"],
        "port": registration["Port"],
        "tags": registration["Tags"],
        "health": status,
        "checks": checks,
    })
}

/// The rows `drover get services [NAME]` shows, with the catalog index.
pub async fn fetch(
    client: &Client,
    name: Option<&str>,
    all_namespaces: bool,
    index: Option<i64>,
) -> anyhow::Result<Indexed<Vec<Value>>> {
    let mut query = Vec::new();
    if all_namespaces {
        query.push(("namespace", "*".to_string()));
    }
    if let Some(index) = index {
        query.push(("index", index.to_string()));
        query.push(("wait", "5m".to_string()));
    }
    match name {
        None => {
            let list: Indexed<Vec<Value>> = client.get("/v1/services", &query).await?;
            let mut rows = Vec::new();
            for group in &list.value {
                let ns = group["Namespace"].as_str().unwrap_or_default();
                for service in group["Services"].as_array().into_iter().flatten() {
                    let service_name = service["ServiceName"].as_str().unwrap_or_default();
                    let entries = health(client, ns, service_name).await?;
                    rows.push(summary_row(ns, service_name, &service["Tags"], &entries));
                }
            }
            Ok(Indexed {
                index: list.index,
                value: rows,
            })
        }
        Some(name) => {
            let path = format!("/v1/service/{}", segment(name));
            let regs: Indexed<Vec<Value>> = client.get(&path, &query).await?;
            let mut by_namespace: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for reg in &regs.value {
                let ns = reg["Namespace"].as_str().unwrap_or_default().to_string();
                by_namespace.entry(ns).or_default().push(reg.clone());
            }
            let mut rows = Vec::new();
            for (ns, regs) in by_namespace {
                let entries = health(client, &ns, name).await?;
                let by_id: BTreeMap<&str, &Value> = entries
                    .iter()
                    .filter_map(|e| Some((e["Service"]["ID"].as_str()?, e)))
                    .collect();
                for reg in &regs {
                    let id = reg["ID"].as_str().unwrap_or_default();
                    rows.push(instance_row(reg, by_id.get(id).copied()));
                }
            }
            Ok(Indexed {
                index: regs.index,
                value: rows,
            })
        }
    }
}

/// A service's health entries in one namespace.
async fn health(client: &Client, namespace: &str, service: &str) -> anyhow::Result<Vec<Value>> {
    let path = format!("/v1/health/service/{}", segment(service));
    let entries: Indexed<Vec<Value>> = client
        .get(&path, &[("namespace", namespace.to_string())])
        .await?;
    Ok(entries.value)
}

fn tags_of(row: &Value) -> String {
    let tags: Vec<String> = row["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    list_or_none(&tags)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".to_string(),
        other => other.to_string(),
    }
}

/// NAME, INSTANCES, PASSING, (WARNING, CRITICAL), TAGS.
pub fn services_table(rows: &[Value], wide: bool, all: bool) -> Table {
    let mut headers = Vec::new();
    if all {
        headers.push("NAMESPACE");
    }
    headers.extend(["NAME", "INSTANCES", "PASSING"]);
    if wide {
        headers.extend(["WARNING", "CRITICAL"]);
    }
    headers.push("TAGS");
    let mut table = Table::new(&headers);
    for row in rows {
        let mut cells = Vec::new();
        if all {
            cells.push(text(&row["namespace"]));
        }
        cells.extend([
            text(&row["name"]),
            text(&row["instances"]),
            format!("{}/{}", text(&row["passing"]), text(&row["instances"])),
        ]);
        if wide {
            cells.extend([text(&row["warning"]), text(&row["critical"])]);
        }
        cells.push(tags_of(row));
        table.row(cells);
    }
    table
}

/// ALLOC, NODE, ADDRESS, HEALTH, JOB, TAGS (wide: the checks' outputs).
pub fn instances_table(rows: &[Value], wide: bool, all: bool, style: Style) -> Table {
    let mut headers = Vec::new();
    if all {
        headers.push("NAMESPACE");
    }
    headers.extend(["ALLOC", "NODE", "ADDRESS", "HEALTH", "JOB", "TAGS"]);
    if wide {
        headers.push("CHECKS");
    }
    let mut table = Table::new(&headers);
    for row in rows {
        let mut cells = Vec::new();
        if all {
            cells.push(text(&row["namespace"]));
        }
        cells.extend([
            short_id(row["alloc_id"].as_str().unwrap_or_default()).to_string(),
            text(&row["node"]),
            format!("{}:{}", text(&row["address"]), text(&row["port"])),
            style.status(row["health"].as_str().unwrap_or("unknown")),
            text(&row["job"]),
            tags_of(row),
        ]);
        if wide {
            let checks: Vec<String> = row["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{}={}", text(&c["name"]), text(&c["status"])))
                .collect();
            cells.push(list_or_none(&checks));
        }
        table.row(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, node: &str, statuses: &[&str]) -> Value {
        let checks: Vec<Value> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"Name": format!("c{i}"), "Status": s, "Output": ""}))
            .collect();
        json!({"Node": {"Node": node}, "Service": {"ID": id}, "Checks": checks})
    }

    #[test]
    fn the_worst_check_decides_and_no_checks_pass() {
        assert_eq!(worst_status(&json!([])), "passing");
        assert_eq!(
            worst_status(&json!([{"Status": "passing"}, {"Status": "warning"}])),
            "warning"
        );
        assert_eq!(
            worst_status(&json!([{"Status": "critical"}, {"Status": "warning"}])),
            "critical"
        );
        assert_eq!(worst_status(&json!([{"Status": "bogus"}])), "critical");
    }

    #[test]
    fn a_summary_counts_instances_by_health() {
        let entries = [
            entry("a", "n1", &["passing"]),
            entry("b", "n2", &["passing", "critical"]),
            entry("c", "n3", &[]),
        ];
        let row = summary_row("default", "web", &json!(["http"]), &entries);
        assert_eq!(row["instances"], 3);
        assert_eq!(row["passing"], 2);
        assert_eq!(row["critical"], 1);
        let table = services_table(&[row], false, false).render();
        assert!(table.contains("web"), "{table}");
        assert!(table.contains("2/3"), "{table}");
        assert!(table.contains("http"), "{table}");
    }

    #[test]
    fn an_instance_joins_its_registration_and_health() {
        let reg = json!({
            "ID": "_drover-x", "Namespace": "default", "ServiceName": "web",
            "JobID": "web", "AllocID": "0123456789abcdef", "NodeID": "n-1",
            "Address": "127.0.0.2", "Port": 20001, "Tags": ["http"],
        });
        let health = entry("_drover-x", "node-a", &["passing", "critical"]);
        let row = instance_row(&reg, Some(&health));
        assert_eq!(row["health"], "critical");
        assert_eq!(row["node"], "node-a");
        let table = instances_table(std::slice::from_ref(&row), true, false, Style::PLAIN).render();
        assert!(table.contains("01234567"), "{table}");
        assert!(table.contains("127.0.0.2:20001"), "{table}");
        assert!(table.contains("c1=critical"), "{table}");
        assert_eq!(instance_row(&reg, None)["health"], "unknown");
    }
}
