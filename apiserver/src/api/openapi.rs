//! `GET /v1/openapi.json`: an OpenAPI 3.1 document of every `/v1` route,
//! built from the routes the handler modules define (see [`super::route`]:
//! serving a route and describing it are one step), with the request and
//! answer schemas generated from the `drover-api` and api-types types
//! themselves (utoipa), so a client generated from it reads what the
//! server writes.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Json;
use drover_api::ApiErrorBody;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::route::{Need, Produces, Route, Routes};

/// A body's schema: a `$ref` (or an array or nullable one), the type and
/// every type it refers to added to the components.
pub(crate) type SchemaFn = fn(&mut Components) -> Value;

/// Named schemas, for `components.schemas`.
pub(crate) type Components = BTreeMap<String, Value>;

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

/// One `T`.
pub(crate) fn one<T: ToSchema>(components: &mut Components) -> Value {
    json!({"$ref": component::<T>(components)})
}

/// An array of `T`.
pub(crate) fn list<T: ToSchema>(components: &mut Components) -> Value {
    json!({"type": "array", "items": {"$ref": component::<T>(components)}})
}

/// A `T` or null.
pub(crate) fn maybe<T: ToSchema>(components: &mut Components) -> Value {
    json!({"oneOf": [{"$ref": component::<T>(components)}, {"type": "null"}]})
}

/// `{}`: a body with nothing in it.
pub(crate) fn empty(_: &mut Components) -> Value {
    json!({"type": "object", "additionalProperties": false})
}

pub(crate) fn routes() -> Routes {
    Routes::new("meta").add(
        Route::get("/v1/openapi.json", "This document").needs(Need::Token),
        || async {
            // The document never changes while the server runs: build it
            // (every schema generated) once, on the first request.
            static DOCUMENT: LazyLock<Value> = LazyLock::new(|| document(&super::described()));
            Json(DOCUMENT.clone())
        },
    )
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
            "follow" | "stderr" | "purge" | "tty" => json!({"type": "boolean"}),
            "topic" => json!({"type": "array", "items": {"type": "string"}}),
            _ => json!({"type": "string"}),
        };
        json!({"name": q, "in": "query", "required": false, "schema": schema})
    }));
    let media = match route.produces {
        Produces::NdJson => "application/x-ndjson",
        Produces::Text | Produces::WebSocket => "text/plain",
        Produces::Json => "application/json",
    };
    let answer = route
        .response
        .map_or(json!({}), |schema| schema(components));
    let mut responses = match route.produces {
        // OpenAPI has no words for what follows the upgrade; the summary
        // and docs/api.md name the protocol.
        Produces::WebSocket => json!({"101": {
            "description": "Switching Protocols: a WebSocket carrying Nomad's exec frames (JSON text)"
        }}),
        _ => json!({"200": {"description": "OK", "content": {media: {"schema": answer}}}}),
    };
    if let Some(r) = responses.as_object_mut() {
        r.insert(
            "default".into(),
            json!({
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }),
        );
    }
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": format!("{} {}", route.method.as_str(), route.path),
        // What a caller needs when ACLs are on (docs/acl.md).
        "x-drover-acl": route.need.describe(),
        "parameters": params,
        "responses": responses,
    });
    if let (Some((brief, schema)), Some(obj)) = (route.body, op.as_object_mut()) {
        let schema = schema(components);
        obj.insert(
            "requestBody".into(),
            json!({"required": true, "description": brief,
                   "content": {"application/json": {"schema": schema}}}),
        );
    }
    op
}

/// The OpenAPI document of `routes`.
pub(crate) fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    let mut components = Components::new();
    let error = one::<ApiErrorBody>(&mut components);
    for route in routes {
        let op = operation(route, &mut components);
        let entry = paths
            .entry(openapi_path(route.path))
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(ops) = entry.as_object_mut() {
            ops.insert(route.method.as_str().to_string(), op);
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

    #[test]
    fn every_method_on_a_path_is_defined_once() {
        // axum panics on a second handler for one method and path: the
        // routes build, and the descriptions agree.
        let described = crate::api::described();
        let mut seen = std::collections::HashSet::new();
        for route in &described {
            assert!(
                seen.insert((route.method, route.path)),
                "{} {} is described twice",
                route.method.as_str(),
                route.path
            );
            assert!(!route.tag.is_empty(), "{} has no tag", route.path);
        }
        assert!(described.len() > 40, "only {} routes", described.len());
    }

    #[test]
    fn the_document_lists_every_route_with_its_path_parameters() {
        let doc = document(&crate::api::described());
        assert_eq!(doc["openapi"], "3.1.0");
        for route in crate::api::described() {
            let method = route.method.as_str();
            let op = &doc["paths"][openapi_path(route.path).as_str()][method];
            assert!(op.is_object(), "{method} {} missing", route.path);
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
        let doc = document(&crate::api::described());
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
        for route in crate::api::described() {
            let own = route.tag != "consul" && route.produces == Produces::Json;
            let documented = route.response.is_some()
                || matches!(
                    route.path,
                    "/v1/openapi.json" | "/v1/services" | "/v1/service/{name}"
                );
            assert!(
                !own || documented,
                "{} {} has no answer schema",
                route.method.as_str(),
                route.path
            );
        }
    }

    #[test]
    fn bodies_are_the_api_crates_types() {
        let doc = document(&crate::api::described());
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
