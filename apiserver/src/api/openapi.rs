//! `GET /v1/openapi.json`: an OpenAPI 3 document of every `/v1` route,
//! built from [`ROUTES`]. A test reads the router's sources and fails when
//! a route is served but missing here, so the table cannot fall behind.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::ApiState;

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// axum's syntax: `/v1/job/{name}`.
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters besides the path's.
    pub query: &'static [&'static str],
    /// What the JSON body holds, for writes.
    pub body: Option<&'static str>,
    /// The response: `json`, `ndjson` (a stream) or `text` (a stream).
    pub produces: &'static str,
}

const READ: &[&str] = &["namespace", "index", "wait"];

const fn r(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        tag,
        summary,
        query: &[],
        body: None,
        produces: "json",
    }
}

const fn read(path: &'static str, tag: &'static str, summary: &'static str) -> Route {
    Route {
        query: READ,
        ..r("get", path, tag, summary)
    }
}

const fn write(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    body: &'static str,
) -> Route {
    Route {
        query: &["namespace"],
        body: Some(body),
        ..r(method, path, tag, summary)
    }
}

/// Every `/v1` route the API serves.
pub const ROUTES: &[Route] = &[
    Route {
        query: &["namespace", "index", "wait", "prefix"],
        ..read("/v1/jobs", "jobs", "List jobs with their status")
    },
    write(
        "post",
        "/v1/jobs",
        "jobs",
        "Register a job",
        "{job, check_index?}",
    ),
    read("/v1/job/{name}", "jobs", "Read a job with its status"),
    Route {
        query: &["namespace", "purge"],
        ..r(
            "delete",
            "/v1/job/{name}",
            "jobs",
            "Stop a job (purge: delete it)",
        )
    },
    Route {
        query: &["namespace", "index", "wait", "diffs"],
        ..read(
            "/v1/job/{name}/versions",
            "jobs",
            "A job's stored versions, newest first, with stability (diffs: each against the one before)",
        )
    },
    write(
        "post",
        "/v1/job/{name}/revert",
        "jobs",
        "Register an older version's spec again as a new version",
        "{job_version, enforce_prior_version?, check_index?}",
    ),
    read(
        "/v1/job/{name}/deployments",
        "deployments",
        "A job's deployments, newest first",
    ),
    read(
        "/v1/job/{name}/deployment",
        "deployments",
        "A job's latest deployment (null when none)",
    ),
    Route {
        query: &["namespace", "index", "wait", "job", "prefix"],
        ..read(
            "/v1/deployments",
            "deployments",
            "List deployments, newest first (namespace=* for all)",
        )
    },
    read(
        "/v1/deployment/{id}",
        "deployments",
        "Read a deployment by id or unique id prefix",
    ),
    write(
        "post",
        "/v1/deployment/{id}/promote",
        "deployments",
        "Promote the canaries of some groups (none named: all)",
        "{groups?}",
    ),
    write(
        "post",
        "/v1/deployment/{id}/fail",
        "deployments",
        "Fail a deployment (auto-revert applies)",
        "{}",
    ),
    write(
        "post",
        "/v1/deployment/{id}/pause",
        "deployments",
        "Pause (pause: true) or resume (pause: false) a deployment",
        "{pause}",
    ),
    write(
        "post",
        "/v1/deployment/{id}/allocation-health",
        "deployments",
        "Mark allocations of health_check = manual groups healthy or unhealthy",
        "{healthy?, unhealthy?}",
    ),
    write("post", "/v1/job/{name}/stop", "jobs", "Stop a job", "{}"),
    write(
        "post",
        "/v1/job/{name}/scale",
        "jobs",
        "Scale a group",
        "{group, count, message?, check_index?}",
    ),
    write(
        "post",
        "/v1/job/{name}/plan",
        "jobs",
        "Dry-run a registration",
        "{job}",
    ),
    write(
        "post",
        "/v1/job/{name}/dispatch",
        "jobs",
        "Dispatch a parameterized job (a child job)",
        "{meta?, payload? (base64), idempotency_token?}",
    ),
    write(
        "post",
        "/v1/job/{name}/periodic/force",
        "jobs",
        "Launch a periodic job's child now",
        "{}",
    ),
    read(
        "/v1/job/{name}/children",
        "jobs",
        "A parent's launch record and child jobs",
    ),
    Route {
        query: &["namespace", "index", "wait", "job", "node"],
        ..read(
            "/v1/allocations",
            "allocations",
            "List allocations (namespace=* for all)",
        )
    },
    read(
        "/v1/allocation/{id}",
        "allocations",
        "Read an allocation by id, unique id prefix or name",
    ),
    Route {
        query: &["namespace"],
        ..r(
            "post",
            "/v1/allocation/{id}/stop",
            "allocations",
            "Stop an allocation; its job replaces it",
        )
    },
    Route {
        query: &["namespace", "follow", "stderr", "tail"],
        produces: "text",
        ..r(
            "get",
            "/v1/allocation/{id}/logs",
            "allocations",
            "Stream the logs of the group's only task",
        )
    },
    Route {
        query: &["namespace", "follow", "stderr", "tail"],
        produces: "text",
        ..r(
            "get",
            "/v1/allocation/{id}/logs/{task}",
            "allocations",
            "Stream a task's logs from its node's agent",
        )
    },
    read("/v1/nodes", "nodes", "List nodes"),
    read(
        "/v1/node/{id}",
        "nodes",
        "Read a node by id, unique id prefix or name",
    ),
    Route {
        body: Some("{enable, deadline?, ignore_system_jobs?, force?, keep_ineligible?}"),
        ..r(
            "post",
            "/v1/node/{id}/drain",
            "nodes",
            "Start or stop draining a node",
        )
    },
    Route {
        body: Some("{eligible}"),
        ..r(
            "post",
            "/v1/node/{id}/eligibility",
            "nodes",
            "Mark a node (in)eligible for placements",
        )
    },
    read("/v1/namespaces", "namespaces", "The namespaces in use"),
    Route {
        query: &["topic", "namespace"],
        produces: "ndjson",
        ..r(
            "get",
            "/v1/event/stream",
            "events",
            "Stream changes as newline-delimited JSON",
        )
    },
    r("get", "/v1/openapi.json", "meta", "This document"),
    consul(
        "/v1/agent/self",
        "The agent's configuration (datacenter, node name, version)",
    ),
    consul("/v1/catalog/datacenters", "Known datacenters"),
    consul(
        "/v1/catalog/services",
        "Service names with the union of their tags",
    ),
    Route {
        query: CONSUL_SERVICE_READ,
        ..consul(
            "/v1/catalog/service/{name}",
            "A service's instances (CatalogService)",
        )
    },
    consul("/v1/catalog/nodes", "Nodes"),
    consul("/v1/catalog/node/{node}", "A node and its services"),
    Route {
        query: CONSUL_SERVICE_READ,
        ..consul(
            "/v1/health/service/{name}",
            "A service's instances with their checks",
        )
    },
    consul(
        "/v1/health/state/{state}",
        "Checks in a state: any, passing, warning, critical",
    ),
    consul("/v1/health/checks/{service}", "A service's checks"),
    consul("/v1/health/node/{node}", "A node's checks"),
    Route {
        query: &["recurse", "raw", "keys", "separator", "index", "wait"],
        ..consul("/v1/kv/", "List the whole KV (recurse or keys)")
    },
    Route {
        query: &["cas", "flags"],
        produces: "text",
        ..r("put", "/v1/kv/", "consul", "Refused: a key is needed")
    },
    Route {
        query: &["recurse"],
        ..r(
            "delete",
            "/v1/kv/",
            "consul",
            "Delete the whole KV (recurse)",
        )
    },
    Route {
        query: &["recurse", "raw", "keys", "separator", "index", "wait"],
        ..consul("/v1/kv/{*key}", "Read a key (raw: its bytes) or a prefix")
    },
    Route {
        query: &["cas", "flags"],
        ..r(
            "put",
            "/v1/kv/{*key}",
            "consul",
            "Write a key (body: the value); true or false",
        )
    },
    Route {
        query: &["recurse", "cas"],
        ..r(
            "delete",
            "/v1/kv/{*key}",
            "consul",
            "Delete a key or a prefix; true or false",
        )
    },
    read(
        "/v1/services",
        "services",
        "Nomad: service names and tags per namespace",
    ),
    read(
        "/v1/service/{name}",
        "services",
        "Nomad: a service's registrations",
    ),
];

/// The parameters Consul's reads accept.
const CONSUL_READ: &[&str] = &[
    "dc",
    "ns",
    "index",
    "wait",
    "filter",
    "node-meta",
    "stale",
    "consistent",
    "cached",
];
const CONSUL_SERVICE_READ: &[&str] = &[
    "dc",
    "ns",
    "index",
    "wait",
    "filter",
    "node-meta",
    "tag",
    "passing",
    "stale",
    "consistent",
    "cached",
];

const fn consul(path: &'static str, summary: &'static str) -> Route {
    Route {
        query: CONSUL_READ,
        ..r("get", path, "consul", summary)
    }
}

pub fn routes() -> Router<ApiState> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(document(ROUTES)) }))
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        // A catch-all (`{*key}`) is one parameter named `key`.
        .map(|s| s.trim_start_matches('*'))
        .collect()
}

fn operation(route: &Route) -> Value {
    let mut params: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(route.query.iter().map(|q| {
        let schema = match *q {
            "index" | "tail" => json!({"type": "integer"}),
            "follow" | "stderr" | "purge" => json!({"type": "boolean"}),
            "topic" => json!({"type": "array", "items": {"type": "string"}}),
            _ => json!({"type": "string"}),
        };
        json!({"name": q, "in": "query", "required": false, "schema": schema})
    }));
    let media = match route.produces {
        "ndjson" => "application/x-ndjson",
        "text" => "text/plain",
        _ => "application/json",
    };
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": format!("{} {}", route.method, route.path),
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": {}}}},
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }
        }
    });
    if let (Some(body), Some(obj)) = (route.body, op.as_object_mut()) {
        obj.insert(
            "requestBody".into(),
            json!({"required": true, "description": body,
                   "content": {"application/json": {"schema": {"type": "object"}}}}),
        );
    }
    op
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(ops) = entry.as_object_mut() {
            ops.insert(route.method.to_string(), operation(route));
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "drover", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": {"Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "field": {"type": "string"}}
        }}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(method, path)` of every `.route("…", get(…).post(…))` in `source`.
    fn served(source: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for chunk in source.split(".route(").skip(1) {
            let Some(rest) = chunk.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((path, after)) = rest.split_once('"') else {
                continue;
            };
            // The method router runs to the call's closing parenthesis.
            let mut depth = 1usize;
            let mut end = after.len();
            for (i, ch) in after.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let methods = &after[..end];
            for m in ["get", "post", "put", "delete", "patch"] {
                let call = format!("{m}(");
                let called = methods.match_indices(&call).any(|(i, _)| {
                    !methods[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if called {
                    out.push((m.to_string(), path.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn the_scanner_reads_method_routers() {
        let src = r#".route("/v1/jobs", get(list).post(register_job))
            .route("/v1/job/{name}", get(read).delete(stop))
            .route(
                "/v1/x",
                post(x),
            )"#;
        assert_eq!(
            served(src),
            [
                ("get".to_string(), "/v1/jobs".to_string()),
                ("post".into(), "/v1/jobs".into()),
                ("get".into(), "/v1/job/{name}".into()),
                ("delete".into(), "/v1/job/{name}".into()),
                ("post".into(), "/v1/x".into()),
            ]
        );
    }

    #[test]
    fn every_route_the_router_serves_is_documented() {
        let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api"));
        let mut found = 0;
        // Modules with submodules (consul/) keep routes one level down.
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("src/api") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                for sub in std::fs::read_dir(&path).expect("subdir") {
                    files.push(sub.expect("entry").path());
                }
            } else {
                files.push(path);
            }
        }
        for path in files {
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("source");
            // This file's test sources are examples, not routes.
            let source = source.split("#[cfg(test)]").next().unwrap_or_default();
            for (method, route) in served(source) {
                found += 1;
                assert!(
                    ROUTES.iter().any(|r| r.method == method && r.path == route),
                    "{method} {route} (in {}) is served but not in openapi::ROUTES",
                    path.display()
                );
            }
        }
        assert!(found >= 10, "the scanner found only {found} routes");
    }

    #[test]
    fn the_document_lists_every_route_with_its_path_parameters() {
        let doc = document(ROUTES);
        assert_eq!(doc["openapi"], "3.0.3");
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method];
            assert!(op.is_object(), "{} {} missing", route.method, route.path);
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(names, path_params(route.path));
        }
        assert!(doc["paths"]["/v1/jobs"]["post"]["requestBody"].is_object());
    }
}
