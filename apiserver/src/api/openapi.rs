//! `GET /v1/openapi.json`: an OpenAPI 3.1 document of every `/v1` route,
//! built from [`ROUTES`], with the request and answer schemas generated
//! from the `drover-api` and api-types types themselves (utoipa), so a
//! client generated from it reads what the server writes. A test reads the
//! router's sources and fails when a route is served but missing here, so
//! the table cannot fall behind.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::routing::get;
use axum::{Json, Router};
use drover_api::allocs::StopResponse;
use drover_api::children::{ChildResponse, ChildrenResponse, DispatchRequest};
use drover_api::deployment_actions::{
    AllocHealthRequest, DeploymentUpdateResponse, PauseRequest, PromoteRequest,
};
use drover_api::deployments::DeploymentView;
use drover_api::job_actions::{ScaleRequest, StopRequest};
use drover_api::jobs::{RegisterRequest, RegisterResponse};
use drover_api::namespaces::NamespaceView;
use drover_api::nodes::{DrainRequest, EligibilityRequest, SchedulingResponse};
use drover_api::plan::{PlanRequest, PlanResponse};
use drover_api::versions::{JobVersions, RevertRequest};
use drover_api::views::{AllocationView, NodeDetail, NodeView};
use drover_api::ApiErrorBody;
use drover_api_types::Job;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

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
    /// The JSON body's schema, for writes that take one.
    pub request: Option<SchemaFn>,
    /// The JSON answer's schema (Consul's endpoints answer in Consul's shapes).
    pub response: Option<SchemaFn>,
}

/// A body's schema: a `$ref` (or an array or nullable one), the type and
/// every type it refers to added to the components.
pub type SchemaFn = fn(&mut Components) -> Value;

/// Named schemas, for `components.schemas`.
pub type Components = BTreeMap<String, Value>;

fn component<T: ToSchema>(components: &mut Components) -> String {
    let mut refs = Vec::new();
    T::schemas(&mut refs);
    for (name, schema) in refs {
        components.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let name = T::name().into_owned();
    components.insert(
        name.clone(),
        serde_json::to_value(T::schema()).unwrap_or(Value::Null),
    );
    format!("#/components/schemas/{name}")
}

fn one<T: ToSchema>(components: &mut Components) -> Value {
    json!({"$ref": component::<T>(components)})
}

fn list<T: ToSchema>(components: &mut Components) -> Value {
    json!({"type": "array", "items": {"$ref": component::<T>(components)}})
}

fn maybe<T: ToSchema>(components: &mut Components) -> Value {
    json!({"oneOf": [{"$ref": component::<T>(components)}, {"type": "null"}]})
}

fn empty(_: &mut Components) -> Value {
    json!({"type": "object", "additionalProperties": false})
}

const fn answers(route: Route, response: SchemaFn) -> Route {
    Route {
        response: Some(response),
        ..route
    }
}

const fn exchanges(route: Route, request: SchemaFn, response: SchemaFn) -> Route {
    Route {
        request: Some(request),
        response: Some(response),
        ..route
    }
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
        request: None,
        response: None,
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
    answers(
        Route {
            query: &["namespace", "index", "wait", "prefix"],
            ..read("/v1/jobs", "jobs", "List jobs with their status")
        },
        list::<Job>,
    ),
    exchanges(
        write(
            "post",
            "/v1/jobs",
            "jobs",
            "Register a job",
            "{job, check_index?}",
        ),
        one::<RegisterRequest>,
        one::<RegisterResponse>,
    ),
    answers(
        read("/v1/job/{name}", "jobs", "Read a job with its status"),
        one::<Job>,
    ),
    answers(
        Route {
            query: &["namespace", "purge"],
            ..r(
                "delete",
                "/v1/job/{name}",
                "jobs",
                "Stop a job (purge: delete it)",
            )
        },
        one::<RegisterResponse>,
    ),
    answers(
        Route {
            query: &["namespace", "index", "wait", "diffs"],
            ..read(
                "/v1/job/{name}/versions",
                "jobs",
                "A job's stored versions, newest first, with stability (diffs: each against the one before)",
            )
        },
        one::<JobVersions>,
    ),
    exchanges(
        write(
            "post",
            "/v1/job/{name}/revert",
            "jobs",
            "Register an older version's spec again as a new version",
            "{job_version, enforce_prior_version?, check_index?}",
        ),
        one::<RevertRequest>,
        one::<RegisterResponse>,
    ),
    answers(
        read(
            "/v1/job/{name}/deployments",
            "deployments",
            "A job's deployments, newest first",
        ),
        list::<DeploymentView>,
    ),
    answers(
        read(
            "/v1/job/{name}/deployment",
            "deployments",
            "A job's latest deployment (null when none)",
        ),
        maybe::<DeploymentView>,
    ),
    answers(
        Route {
            query: &["namespace", "index", "wait", "job", "prefix"],
            ..read(
                "/v1/deployments",
                "deployments",
                "List deployments, newest first (namespace=* for all)",
            )
        },
        list::<DeploymentView>,
    ),
    answers(
        read(
            "/v1/deployment/{id}",
            "deployments",
            "Read a deployment by id or unique id prefix",
        ),
        one::<DeploymentView>,
    ),
    exchanges(
        write(
            "post",
            "/v1/deployment/{id}/promote",
            "deployments",
            "Promote the canaries of some groups (none named: all)",
            "{groups?}",
        ),
        one::<PromoteRequest>,
        one::<DeploymentUpdateResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/deployment/{id}/fail",
            "deployments",
            "Fail a deployment (auto-revert applies)",
            "{}",
        ),
        empty,
        one::<DeploymentUpdateResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/deployment/{id}/pause",
            "deployments",
            "Pause (pause: true) or resume (pause: false) a deployment",
            "{pause}",
        ),
        one::<PauseRequest>,
        one::<DeploymentUpdateResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/deployment/{id}/allocation-health",
            "deployments",
            "Mark allocations of health_check = manual groups healthy or unhealthy",
            "{healthy?, unhealthy?}",
        ),
        one::<AllocHealthRequest>,
        one::<DeploymentUpdateResponse>,
    ),
    exchanges(
        write("post", "/v1/job/{name}/stop", "jobs", "Stop a job", "{}"),
        one::<StopRequest>,
        one::<RegisterResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/job/{name}/scale",
            "jobs",
            "Scale a group",
            "{group, count, message?, check_index?}",
        ),
        one::<ScaleRequest>,
        one::<RegisterResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/job/{name}/plan",
            "jobs",
            "Dry-run a registration",
            "{job}",
        ),
        one::<PlanRequest>,
        one::<PlanResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/job/{name}/dispatch",
            "jobs",
            "Dispatch a parameterized job (a child job)",
            "{meta?, payload? (base64), idempotency_token?}",
        ),
        one::<DispatchRequest>,
        one::<ChildResponse>,
    ),
    exchanges(
        write(
            "post",
            "/v1/job/{name}/periodic/force",
            "jobs",
            "Launch a periodic job's child now",
            "{}",
        ),
        empty,
        one::<ChildResponse>,
    ),
    answers(
        read(
            "/v1/job/{name}/children",
            "jobs",
            "A parent's launch record and child jobs",
        ),
        one::<ChildrenResponse>,
    ),
    answers(
        Route {
            query: &["namespace", "index", "wait", "job", "node"],
            ..read(
                "/v1/allocations",
                "allocations",
                "List allocations (namespace=* for all)",
            )
        },
        list::<AllocationView>,
    ),
    answers(
        read(
            "/v1/allocation/{id}",
            "allocations",
            "Read an allocation by id, unique id prefix or name",
        ),
        one::<AllocationView>,
    ),
    answers(
        Route {
            query: &["namespace"],
            ..r(
                "post",
                "/v1/allocation/{id}/stop",
                "allocations",
                "Stop an allocation; its job replaces it",
            )
        },
        one::<StopResponse>,
    ),
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
    answers(
        read("/v1/nodes", "nodes", "List nodes"),
        list::<NodeView>,
    ),
    answers(
        read(
            "/v1/node/{id}",
            "nodes",
            "Read a node by id, unique id prefix or name",
        ),
        one::<NodeDetail>,
    ),
    exchanges(
        Route {
            body: Some("{enable, deadline?, ignore_system_jobs?, force?, keep_ineligible?}"),
            ..r(
                "post",
                "/v1/node/{id}/drain",
                "nodes",
                "Start or stop draining a node",
            )
        },
        one::<DrainRequest>,
        one::<SchedulingResponse>,
    ),
    exchanges(
        Route {
            body: Some("{eligible}"),
            ..r(
                "post",
                "/v1/node/{id}/eligibility",
                "nodes",
                "Mark a node (in)eligible for placements",
            )
        },
        one::<EligibilityRequest>,
        one::<SchedulingResponse>,
    ),
    answers(
        read("/v1/namespaces", "namespaces", "The namespaces in use"),
        list::<NamespaceView>,
    ),
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
    // The document never changes while the server runs: build it (every
    // schema generated) once, on the first request.
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| document(ROUTES));
    Router::new().route("/v1/openapi.json", get(|| async { Json(DOCUMENT.clone()) }))
}

/// A route's path as OpenAPI writes it: axum's catch-all `{*key}` is the
/// parameter `{key}`.
fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        // A catch-all (`{*key}`) is one parameter named `key`.
        .map(|s| s.trim_start_matches('*'))
        .collect()
}

fn operation(route: &Route, components: &mut Components) -> Value {
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
    let answer = route
        .response
        .map_or(json!({}), |schema| schema(components));
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": format!("{} {}", route.method, route.path),
        "parameters": params,
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": answer}}},
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }
        }
    });
    let request = route.request.map(|schema| schema(components));
    if let (Some(body), Some(obj)) = (route.body, op.as_object_mut()) {
        let schema = request.unwrap_or_else(|| json!({"type": "object"}));
        obj.insert(
            "requestBody".into(),
            json!({"required": true, "description": body,
                   "content": {"application/json": {"schema": schema}}}),
        );
    }
    op
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    let mut components = Components::new();
    let error = one::<ApiErrorBody>(&mut components);
    for route in routes {
        let op = operation(route, &mut components);
        let entry = paths
            .entry(openapi_path(route.path))
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(ops) = entry.as_object_mut() {
            ops.insert(route.method.to_string(), op);
        }
    }
    // Every error answer reads as the API's error body.
    components.insert("Error".into(), error);
    json!({
        "openapi": "3.1.0",
        "info": {"title": "drover", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": components}
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
        assert_eq!(doc["openapi"], "3.1.0");
        for route in ROUTES {
            let op = &doc["paths"][openapi_path(route.path).as_str()][route.method];
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

    /// Every `$ref` under `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_names_a_schema_in_the_document() {
        let doc = document(ROUTES);
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "only {} references", found.len());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} is not a component reference"));
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{r} is referenced but not defined"
            );
        }
    }

    #[test]
    fn drovers_own_json_routes_say_what_they_answer() {
        for route in ROUTES {
            let own = route.tag != "consul" && route.produces == "json";
            let documented = route.response.is_some()
                || matches!(
                    route.path,
                    "/v1/openapi.json" | "/v1/services" | "/v1/service/{name}"
                );
            assert!(
                !own || documented,
                "{} {} has no answer schema",
                route.method,
                route.path
            );
            assert!(
                route.body.is_none() || route.request.is_some(),
                "{} {} takes a body without a schema",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn bodies_are_the_api_crates_types() {
        let doc = document(ROUTES);
        let register = &doc["paths"]["/v1/jobs"]["post"];
        let body = &register["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["$ref"], "#/components/schemas/RegisterRequest");
        let request = &doc["components"]["schemas"]["RegisterRequest"];
        assert!(request["properties"]["job"].is_object(), "{request}");
        assert!(
            request["properties"]["check_index"].is_object(),
            "{request}"
        );
        let list = &doc["paths"]["/v1/jobs"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"];
        assert_eq!(list["items"]["$ref"], "#/components/schemas/Job");
        // Durations travel as Go-style strings ("30s"), not as structs.
        let update = &doc["components"]["schemas"]["UpdateStrategy"];
        let healthy_time = &update["properties"]["min_healthy_time"]["type"];
        assert_eq!(healthy_time[0], "string", "{update}");
        let error = &doc["components"]["schemas"]["Error"];
        assert_eq!(error["$ref"], "#/components/schemas/ApiErrorBody");
    }
}
