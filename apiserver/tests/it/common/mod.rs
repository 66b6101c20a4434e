//! The API served in-process against a real etcd (no controllers, so what
//! a test writes stays as written), requests to it, and the catalog
//! objects the services controller and the node lifecycle controller
//! would write, written straight into the store so the catalog tests do
//! not depend on them.

use drover_api_types::node::{NodeState, NodeStatus};
use drover_api_types::service::{CheckStatus, ServiceRegistration};
use drover_api_types::{Node, ObjectMeta};
use drover_apiserver::api::ApiState;
use drover_apiserver::http::InProcessApi;
use drover_store::{Store, StoreConfig, Versioned};
use drover_test_support::etcd::TestEtcd;

pub struct Server {
    _etcd: TestEtcd,
    _api: InProcessApi,
    pub store: Store,
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer of the drover API (`null` body when it is not JSON).
pub struct Answer {
    pub status: u16,
    pub index: Option<i64>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn pair(self) -> (u16, serde_json::Value) {
        (self.status, self.body)
    }
}

pub async fn start() -> Server {
    start_with(false, None).await
}

/// [`start`] with ACLs on (`drover server --acl`).
pub async fn start_with_acl() -> Server {
    start_with(true, None).await
}

/// [`start`], ACLs on or off, writing an audit log.
pub async fn start_with(acl: bool, audit: Option<drover_apiserver::audit::AuditLog>) -> Server {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd for tests");
    let mut config = StoreConfig::new(etcd.endpoints.clone(), &etcd.prefix);
    config.request_timeout_ms = 3_000;
    let store = Store::connect(config).await.expect("connect");
    let mut state = ApiState::new(store.clone());
    if acl {
        state = state.with_acl();
    }
    if let Some(log) = audit {
        state = state.with_audit(log);
    }
    let api = InProcessApi::start(state).await.expect("serving the API");
    Server {
        _etcd: etcd,
        store,
        addr: api.addr,
        base: api.base.clone(),
        _api: api,
        http: reqwest::Client::new(),
    }
}

impl Server {
    /// A node as its agent registers it, with its lifecycle status.
    pub async fn catalog_node(
        &self,
        id: &str,
        name: &str,
        dc: &str,
        address: &str,
        state: NodeState,
    ) {
        let mut node = Node {
            metadata: ObjectMeta {
                name: name.into(),
                uid: id.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        node.spec.datacenter = dc.into();
        node.spec.address = address.into();
        node.spec.meta.insert("rack".into(), format!("rack-{name}"));
        let keys = self.store.keys();
        self.store
            .put_at(&keys.node(id), &node)
            .await
            .expect("node");
        self.node_state(id, state).await;
    }

    pub async fn node_state(&self, id: &str, state: NodeState) {
        let status = Versioned::new(NodeStatus {
            state,
            ..Default::default()
        });
        self.store
            .put_at(&self.store.keys().node_status(id), &status)
            .await
            .expect("node status");
    }

    /// One service instance on `node_id`, its checks in the given states.
    #[allow(clippy::too_many_arguments)]
    pub async fn service(
        &self,
        ns: &str,
        id: &str,
        name: &str,
        node: (&str, &str),
        port: u16,
        tags: &[&str],
        checks: &[&str],
    ) {
        let mut reg = ServiceRegistration {
            metadata: ObjectMeta {
                name: id.into(),
                namespace: ns.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let s = &mut reg.spec;
        s.service_name = name.into();
        s.tags = tags.iter().map(|t| t.to_string()).collect();
        s.meta.insert("version".into(), "2".into());
        s.address = "127.0.0.1".into();
        s.port = port;
        s.node_id = node.0.into();
        s.node_name = node.1.into();
        s.datacenter = "dc1".into();
        s.job_id = name.into();
        s.alloc_id = format!("alloc-{id}");
        s.checks = checks
            .iter()
            .enumerate()
            .map(|(i, status)| CheckStatus {
                check_id: format!("{id}-check-{i}"),
                name: format!("{name} check {i}"),
                status: status.to_string(),
                output: format!("{status} output"),
                updated_at: None,
            })
            .collect();
        self.store
            .put_at(&self.store.keys().service(ns, id), &reg)
            .await
            .expect("service");
    }

    pub async fn delete_service(&self, ns: &str, id: &str) {
        self.store
            .delete_raw(
                &self.store.keys().service(ns, id),
                drover_store::Guard::None,
            )
            .await
            .expect("delete service");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request`: its status, `X-Drover-Index` and JSON body.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let r = request.send().await.expect("request");
        let status = r.status().as_u16();
        let index = r
            .headers()
            .get("x-drover-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = r.json().await.unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            index,
            body,
        }
    }

    /// GET: status, `X-Consul-Index`, body text.
    pub async fn consul_get(&self, path: &str) -> (u16, i64, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        let index = r
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        (status, index, r.text().await.expect("body"))
    }

    /// GET a JSON answer that must be 200.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        let (status, _, body) = self.consul_get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// The standard scene: alpha (dc1, ready) with web-1 (passing, tags
    /// http+v2), web-3 (warning) and db-1; beta (dc1, down) with web-2;
    /// gamma (dc2, ready) with web-4; api-1 in namespace `prod` on alpha.
    /// Returns once the catalog shows all of it.
    pub async fn scene(&self) {
        self.catalog_node("n-alpha", "alpha", "dc1", "10.0.0.1", NodeState::Ready)
            .await;
        self.catalog_node("n-beta", "beta", "dc1", "10.0.0.2", NodeState::Down)
            .await;
        self.catalog_node("n-gamma", "gamma", "dc2", "10.0.0.3", NodeState::Ready)
            .await;
        let alpha = ("n-alpha", "alpha");
        self.service(
            "default",
            "web-1",
            "web",
            alpha,
            8001,
            &["http", "v2"],
            &["passing"],
        )
        .await;
        self.service(
            "default",
            "web-2",
            "web",
            ("n-beta", "beta"),
            8002,
            &["http"],
            &["passing"],
        )
        .await;
        self.service(
            "default",
            "web-3",
            "web",
            alpha,
            8003,
            &["http"],
            &["warning"],
        )
        .await;
        self.service(
            "default",
            "web-4",
            "web",
            ("n-gamma", "gamma"),
            8004,
            &["http"],
            &[],
        )
        .await;
        self.service("default", "db-1", "db", alpha, 5432, &["sql"], &[])
            .await;
        self.service("prod", "api-1", "api", alpha, 9000, &["grpc"], &["passing"])
            .await;
        drover_test_support::wait::eventually(10, "the catalog to show the scene", || async {
            let all = self.json("/v1/catalog/service/web?ns=*").await;
            let nodes = self.json("/v1/catalog/nodes").await;
            let api = self.json("/v1/catalog/service/api?ns=prod").await;
            // Node statuses come through their own watch: only beta's
            // serfHealth may be critical once they are all in.
            let critical = self.json("/v1/health/state/critical").await;
            (all.as_array().map(Vec::len) == Some(4)
                && nodes.as_array().map(Vec::len) == Some(3)
                && api.as_array().map(Vec::len) == Some(1)
                && critical.as_array().map(Vec::len) == Some(1))
            .then_some(())
        })
        .await;
    }
}

/// `python3 tests/clients/SCRIPT ARGS…` (a real client: py-consul,
/// openapi-spec-validator), off the async runtime; its stdout, or a panic
/// with everything it printed when it fails.
pub async fn python_client(script: &str, args: Vec<String>) -> String {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(path)
            .args(args)
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs (make test installs the clients)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    stdout
}
