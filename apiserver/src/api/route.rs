//! A route is defined once: each handler module adds its routes through
//! [`Routes::add`], which both serves the handler (on the method the
//! route's [`Route`] names) and keeps the route's description — its
//! parameters, body and answer schemas — for `/v1/openapi.json`. A route
//! cannot be served without being documented, nor documented without
//! being served.

use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use drover_api_types::acl::{Capability, Level};

use super::acl::{denied, Caller};
use super::openapi::SchemaFn;
use super::ApiState;

/// The methods the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// As OpenAPI writes it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// What a route's successful answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Produces {
    Json,
    /// Newline-delimited JSON, streamed.
    NdJson,
    /// Plain text, streamed (logs) or short (Consul's KV answers).
    Text,
    /// A WebSocket (`101 Switching Protocols`): exec.
    WebSocket,
}

/// The one right a route checks before its handler runs (with ACLs on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Anyone, with a token or without: the leader, bootstrapping ACLs.
    Public,
    /// Any valid token (or the anonymous policy, when it grants anything).
    Token,
    /// A capability in the namespace the query names (`namespace`, or
    /// Consul's `ns`; `default` when none, and when `*` on a route that
    /// reads one namespace, as its handler does). On a route that reads
    /// across namespaces ([`Route::across_namespaces`]), `*` asks for the
    /// capability in some namespace: the handler filters what it answers
    /// and checks the namespace of an object it finds by id.
    Namespace(Capability),
    /// A capability in the namespace the path names (`/v1/namespace/{name}`).
    NamespaceInPath(Capability),
    Node(Level),
    Agent(Level),
    /// Consul's `key_prefix` rules, checked by the handler on the key.
    Key,
    /// A management token.
    Management,
}

impl Need {
    /// How the OpenAPI document and docs/acl.md name it.
    pub(crate) fn describe(self) -> String {
        match self {
            Need::Public => "public".into(),
            Need::Token => "token".into(),
            Need::Namespace(c) | Need::NamespaceInPath(c) => format!("namespace:{}", c.name()),
            Need::Node(l) => format!("node:{}", l.name()),
            Need::Agent(l) => format!("agent:{}", l.name()),
            Need::Key => "key_prefix".into(),
            Need::Management => "management".into(),
        }
    }

    /// `Err` with a 403's message saying what was missing (built only
    /// then: this runs on every request); `across`: the route reads across
    /// namespaces and checks each object itself. `named` is the query's
    /// namespace as [`query_namespace`] read it.
    fn check(
        self,
        caller: &Caller,
        path: &str,
        named: Option<String>,
        across: bool,
    ) -> Result<(), String> {
        let acl = &caller.acl;
        let lacks = |missing: String| Err(format!("{} lacks {missing}", caller.who()));
        match self {
            Need::Public | Need::Key => Ok(()),
            Need::Token if caller.token.is_some() || acl.is_management() => Ok(()),
            Need::Token => lacks("a token".into()),
            Need::Namespace(c) => match named {
                Some(ns) if ns == "*" && across => {
                    if acl.allows_somewhere(c) {
                        Ok(())
                    } else {
                        lacks(format!("{} on any namespace", c.name()))
                    }
                }
                named => {
                    let ns = named
                        .filter(|ns| ns != "*")
                        .unwrap_or_else(|| super::query::DEFAULT_NAMESPACE.to_string());
                    if acl.allows(&ns, c) {
                        Ok(())
                    } else {
                        lacks(format!("{} on namespace {ns:?}", c.name()))
                    }
                }
            },
            Need::NamespaceInPath(c) => {
                let ns = path.rsplit('/').next().unwrap_or_default();
                if acl.allows(ns, c) {
                    Ok(())
                } else {
                    lacks(format!("{} on namespace {ns:?}", c.name()))
                }
            }
            Need::Node(l) if acl.node(l) => Ok(()),
            Need::Node(l) => lacks(format!("node {}", l.name())),
            Need::Agent(l) if acl.agent(l) => Ok(()),
            Need::Agent(l) => lacks(format!("agent {}", l.name())),
            Need::Management if acl.is_management() => Ok(()),
            Need::Management => lacks("a management token".into()),
        }
    }
}

/// The namespace a query names — drover's `namespace` or Consul's `ns`,
/// decoded exactly as the handlers' extractors decode it — or why the
/// query cannot say (malformed, or two different namespaces: a check on
/// one and a handler reading the other must never disagree).
pub(crate) fn query_namespace(query: Option<&str>) -> Result<Option<String>, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|e| format!("the query string is malformed: {e}"))?;
    let mut named: Option<String> = None;
    for (key, value) in pairs {
        if !matches!(key.as_str(), "namespace" | "ns") || value.is_empty() {
            continue;
        }
        match &named {
            Some(first) if *first != value => {
                return Err(format!(
                    "the query names two namespaces ({first:?} and {value:?}); name one"
                ))
            }
            _ => named = Some(value),
        }
    }
    Ok(named)
}

/// The check [`Routes::add`] puts in front of a route's handler.
async fn enforce(need: Need, across: bool, req: Request, next: Next) -> Response {
    let named = match query_namespace(req.uri().query()) {
        Ok(named) => named,
        Err(message) => {
            return super::error::ApiError::bad_request(message)
                .at("namespace")
                .into_response()
        }
    };
    let verdict = match req.extensions().get::<Caller>() {
        Some(caller) => need.check(caller, req.uri().path(), named, across),
        None => Err("the request was not authenticated".to_string()),
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(message) => denied(message).into_response(),
    }
}

/// One operation: a method on a path, and what it takes and answers.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    /// axum's syntax: `/v1/job/{name}`, `/v1/kv/{*key}`.
    pub path: &'static str,
    /// The group it is listed under; [`Routes::new`] gives it.
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters besides the path's.
    pub query: Vec<&'static str>,
    /// The JSON body in brief (`{job, check_index?}`) and its schema.
    pub body: Option<(&'static str, SchemaFn)>,
    pub produces: Produces,
    /// The JSON answer's schema (Consul's endpoints answer in Consul's
    /// shapes and have none).
    pub response: Option<SchemaFn>,
    /// What the caller must be allowed.
    pub need: Need,
    /// Reads across namespaces (`namespace=*`, or ids found in any): the
    /// handler filters and checks each object's namespace.
    pub across: bool,
}

impl Route {
    fn new(method: Method, path: &'static str, summary: &'static str) -> Route {
        Route {
            method,
            path,
            tag: "",
            summary,
            query: Vec::new(),
            body: None,
            produces: Produces::Json,
            response: None,
            need: Need::Management,
            across: false,
        }
    }

    pub(crate) fn get(path: &'static str, summary: &'static str) -> Route {
        Route::new(Method::Get, path, summary)
    }

    pub(crate) fn post(path: &'static str, summary: &'static str) -> Route {
        Route::new(Method::Post, path, summary)
    }

    pub(crate) fn put(path: &'static str, summary: &'static str) -> Route {
        Route::new(Method::Put, path, summary)
    }

    pub(crate) fn delete(path: &'static str, summary: &'static str) -> Route {
        Route::new(Method::Delete, path, summary)
    }

    /// A drover read: `namespace`, and `index` and `wait` for a
    /// blocking query.
    pub(crate) fn blocking(self) -> Route {
        self.query(&["namespace", "index", "wait"])
    }

    /// Takes `namespace`.
    pub(crate) fn in_namespace(self) -> Route {
        self.query(&["namespace"])
    }

    /// Adds query parameters.
    pub(crate) fn query(mut self, names: &[&'static str]) -> Route {
        self.query.extend_from_slice(names);
        self
    }

    /// A JSON body, in brief and as a schema.
    pub(crate) fn body(mut self, brief: &'static str, schema: SchemaFn) -> Route {
        self.body = Some((brief, schema));
        self
    }

    pub(crate) fn answers(mut self, schema: SchemaFn) -> Route {
        self.response = Some(schema);
        self
    }

    /// What the caller must be allowed; a route that says nothing needs a
    /// management token.
    pub(crate) fn needs(mut self, need: Need) -> Route {
        self.need = need;
        self
    }

    /// The handler reads across namespaces and checks each object's own.
    pub(crate) fn across_namespaces(mut self) -> Route {
        self.across = true;
        self
    }

    pub(crate) fn produces(mut self, produces: Produces) -> Route {
        self.produces = produces;
        self
    }
}

/// Routes being defined: the router that serves them and their
/// descriptions.
pub(crate) struct Routes {
    tag: &'static str,
    router: Router<ApiState>,
    described: Vec<Route>,
}

impl Routes {
    /// Routes listed under `tag`.
    pub(crate) fn new(tag: &'static str) -> Routes {
        Routes {
            tag,
            router: Router::new(),
            described: Vec::new(),
        }
    }

    /// Serves `handler` on the route's method and path, and describes it.
    pub(crate) fn add<H, T>(mut self, mut route: Route, handler: H) -> Routes
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        let (need, across) = (route.need, route.across);
        let guarded = on(route.method.filter(), handler).route_layer(axum::middleware::from_fn(
            move |req: Request, next: Next| enforce(need, across, req, next),
        ));
        // Two methods on one path merge into one method router.
        self.router = self.router.route(route.path, guarded);
        route.tag = self.tag;
        self.described.push(route);
        self
    }

    pub(crate) fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.described.extend(other.described);
        self
    }

    pub(crate) fn into_parts(self) -> (Router<ApiState>, Vec<Route>) {
        (self.router, self.described)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_namespace_is_the_one_handlers_read() {
        assert_eq!(query_namespace(None), Ok(None));
        assert_eq!(
            query_namespace(Some("namespace=web")),
            Ok(Some("web".into()))
        );
        // Percent-encoded as extractors decode it.
        assert_eq!(
            query_namespace(Some("namespace=d%62")),
            Ok(Some("db".into()))
        );
        assert_eq!(query_namespace(Some("namespace=%2A")), Ok(Some("*".into())));
        assert_eq!(
            query_namespace(Some("ns=db&index=3")),
            Ok(Some("db".into()))
        );
        assert_eq!(query_namespace(Some("namespace=")), Ok(None));
        // The same twice is one; two different ones are refused.
        assert_eq!(
            query_namespace(Some("namespace=web&ns=web")),
            Ok(Some("web".into()))
        );
        assert!(query_namespace(Some("namespace=default&namespace=db")).is_err());
        assert!(query_namespace(Some("ns=default&namespace=db")).is_err());
    }
}
