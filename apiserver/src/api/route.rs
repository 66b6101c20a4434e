//! A route is defined once: each handler module adds its routes through
//! [`Routes::add`], which both serves the handler (on the method the
//! route's [`Route`] names) and keeps the route's description — its
//! parameters, body and answer schemas — for `/v1/openapi.json`. A route
//! cannot be served without being documented, nor documented without
//! being served.

use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;

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
        // Two methods on one path merge into one method router.
        self.router = self
            .router
            .route(route.path, on(route.method.filter(), handler));
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
