//! A typed async client of the drover API. It is the one place that knows
//! the server's address, the namespace every call is made in, the
//! blocking-query index (`X-Drover-Index`), and how an error answer reads;
//! one method per endpoint, each with the body and answer types of this
//! crate. The generic [`Client::get`], [`Client::post`] and
//! [`Client::delete`] remain for answers no type describes yet (the
//! catalog's), and [`Client::stream`] / [`Client::raw`] for streams and the
//! Consul-compatible KV.

use std::time::Duration;

use drover_api_types::acl::AclPolicy;
use drover_api_types::Job;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::acl::{PolicyRequest, PolicyStub, PolicyWritten, TokenRequest, TokenView};
use crate::allocs::{RestartRequestBody, RestartResponse, StopResponse};
use crate::children::{ChildResponse, ChildrenResponse, DispatchRequest};
use crate::deployment_actions::{
    AllocHealthRequest, DeploymentUpdateResponse, PauseRequest, PromoteRequest,
};
use crate::deployments::DeploymentView;
use crate::error::ClientError;
use crate::job_actions::ScaleRequest;
use crate::jobs::{RegisterRequest, RegisterResponse, Submission, SubmissionResponse};
use crate::namespaces::{NamespaceRequest, NamespaceView};
use crate::nodes::{
    DrainRequest, EligibilityRequest, JoinRequest, JoinResponse, JoinTokenRequest,
    JoinTokenResponse, SchedulingResponse,
};
use crate::operator::ScrapeTokenResponse;
use crate::plan::{PlanRequest, PlanResponse};
use crate::versions::{JobVersions, RevertRequest};
use crate::views::{AllocationView, NodeDetail, NodeView};

pub type Result<T> = std::result::Result<T, ClientError>;

/// The address `drover` listens on by default.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:4646";

/// An answer with the index it was read at (`X-Drover-Index`): pass it back
/// as `index` to block until something newer.
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub index: i64,
    pub value: T,
}

/// PEM files for TLS: the CA to trust and a client certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub ca_cert: Option<std::path::PathBuf>,
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<std::path::PathBuf>,
}

impl TlsFiles {
    /// An HTTP client builder trusting `ca_cert` besides the system's
    /// roots, and presenting the client certificate when given one.
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder> {
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &self.ca_cert {
            let pem = read_file(path)?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| tls_error(path, e))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read_file(cert)?;
                pem.push(b'\n');
                pem.extend(read_file(key)?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| tls_error(cert, e))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(ClientError::Tls(
                    "a client certificate needs its key: give both --client-cert and --client-key"
                        .into(),
                ))
            }
        }
        Ok(builder)
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))
}

fn tls_error(path: &std::path::Path, e: reqwest::Error) -> ClientError {
    ClientError::Tls(format!("{}: {e}", path.display()))
}

/// A connection to one server, in one namespace.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    namespace: String,
    /// The ACL token's secret, sent as `X-Drover-Token`.
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `addr` (`host:port` or an `http(s)://` URL).
    pub fn new(addr: &str, namespace: &str) -> Result<Client> {
        Client::with_tls(addr, namespace, &TlsFiles::default())
    }

    /// [`Client::new`] trusting `tls.ca_cert` besides the system's roots,
    /// and presenting a client certificate when given one.
    pub fn with_tls(addr: &str, namespace: &str, tls: &TlsFiles) -> Result<Client> {
        let base = normalize_addr(addr)?;
        let builder = tls
            .client_builder()?
            .connect_timeout(Duration::from_secs(5));
        let http = builder.build().map_err(|source| ClientError::Unreachable {
            base: base.clone(),
            source,
        })?;
        Ok(Client {
            base,
            namespace: namespace.to_string(),
            token: None,
            http,
        })
    }

    /// The same client, sending `token` (none when empty).
    pub fn with_token(mut self, token: Option<&str>) -> Client {
        self.token = token.filter(|t| !t.is_empty()).map(str::to_string);
        self
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The ACL token's secret this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same server, in namespace `ns` (unchanged when `ns` is empty).
    pub fn in_namespace(&self, ns: &str) -> Client {
        let mut other = self.clone();
        if !ns.is_empty() {
            other.namespace = ns.to_string();
        }
        other
    }

    /// The same server, in `job`'s own namespace when it names one: a job
    /// file's namespace wins over the client's.
    pub fn for_job(&self, job: &Job) -> Client {
        self.in_namespace(&job.metadata.namespace)
    }

    /// `http://host:port`, no trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    // Jobs.

    pub async fn jobs(&self) -> Result<Indexed<Vec<Job>>> {
        self.get("/v1/jobs", &[]).await
    }

    pub async fn job(&self, name: &str) -> Result<Indexed<Job>> {
        self.get(&job_path(name, ""), &[]).await
    }

    /// A blocking read of a job: answers once its index passes `index`, or
    /// when `wait` runs out (at once when `index` is 0).
    pub async fn watch_job(&self, name: &str, index: i64, wait: Duration) -> Result<Indexed<Job>> {
        self.get(&job_path(name, ""), &blocking(index, wait)).await
    }

    /// Registers `job` (in its own namespace when it names one); with
    /// `check_index`, only if the stored job is still at that index (0:
    /// only if it does not exist).
    pub async fn register(&self, job: &Job, check_index: Option<i64>) -> Result<RegisterResponse> {
        self.register_submitted(job, check_index, None).await
    }

    /// [`Client::register`], keeping `submission` (the file as written)
    /// beside the version it registers.
    pub async fn register_submitted(
        &self,
        job: &Job,
        check_index: Option<i64>,
        submission: Option<&Submission>,
    ) -> Result<RegisterResponse> {
        let body = RegisterRequest {
            job: job.clone(),
            check_index,
            submission: submission.cloned(),
        };
        self.for_job(job).post("/v1/jobs", &[], &body).await
    }

    /// A version's file as submitted (`None`: the latest version's).
    pub async fn submission(
        &self,
        name: &str,
        version: Option<u64>,
    ) -> Result<Indexed<SubmissionResponse>> {
        let query: Vec<(&str, String)> = version
            .map(|v| ("version", v.to_string()))
            .into_iter()
            .collect();
        self.get(&job_path(name, "/submission"), &query).await
    }

    /// What registering `job` would do.
    pub async fn plan(&self, job: &Job) -> Result<PlanResponse> {
        let body = PlanRequest { job: job.clone() };
        let path = job_path(&job.metadata.name, "/plan");
        self.for_job(job).post(&path, &[], &body).await
    }

    /// Stops a job (`purge`: and deletes it once its allocations are done).
    pub async fn stop_job(&self, name: &str, purge: bool) -> Result<RegisterResponse> {
        let query = [("purge", purge.to_string())];
        self.delete(&job_path(name, ""), &query).await
    }

    pub async fn scale(&self, name: &str, request: &ScaleRequest) -> Result<RegisterResponse> {
        self.post(&job_path(name, "/scale"), &[], request).await
    }

    pub async fn versions(&self, name: &str, diffs: bool) -> Result<Indexed<JobVersions>> {
        let query = [("diffs", diffs.to_string())];
        self.get(&job_path(name, "/versions"), &query).await
    }

    pub async fn revert(&self, name: &str, request: &RevertRequest) -> Result<RegisterResponse> {
        self.post(&job_path(name, "/revert"), &[], request).await
    }

    pub async fn dispatch(&self, name: &str, request: &DispatchRequest) -> Result<ChildResponse> {
        self.post(&job_path(name, "/dispatch"), &[], request).await
    }

    /// Launches a periodic job's child now.
    pub async fn force_periodic(&self, name: &str) -> Result<ChildResponse> {
        let empty = serde_json::Map::new();
        self.post(&job_path(name, "/periodic/force"), &[], &empty)
            .await
    }

    pub async fn children(&self, name: &str) -> Result<Indexed<ChildrenResponse>> {
        self.get(&job_path(name, "/children"), &[]).await
    }

    // Deployments.

    pub async fn deployments(&self) -> Result<Indexed<Vec<DeploymentView>>> {
        self.get("/v1/deployments", &[]).await
    }

    pub async fn job_deployments(&self, name: &str) -> Result<Indexed<Vec<DeploymentView>>> {
        self.get(&job_path(name, "/deployments"), &[]).await
    }

    /// A job's latest deployment, if it has one.
    pub async fn latest_deployment(&self, name: &str) -> Result<Indexed<Option<DeploymentView>>> {
        self.get(&job_path(name, "/deployment"), &[]).await
    }

    /// A deployment by id or unique id prefix, in any namespace (ids are
    /// unique across namespaces and pasted from any listing).
    pub async fn deployment(&self, id: &str) -> Result<Indexed<DeploymentView>> {
        self.get(&format!("/v1/deployment/{}", segment(id)), &any_namespace())
            .await
    }

    pub async fn promote(&self, id: &str, groups: &[String]) -> Result<DeploymentUpdateResponse> {
        let body = PromoteRequest {
            groups: groups.to_vec(),
        };
        self.deployment_action(id, "promote", &body).await
    }

    pub async fn pause(&self, id: &str, pause: bool) -> Result<DeploymentUpdateResponse> {
        self.deployment_action(id, "pause", &PauseRequest { pause })
            .await
    }

    pub async fn fail(&self, id: &str) -> Result<DeploymentUpdateResponse> {
        self.deployment_action(id, "fail", &serde_json::Map::new())
            .await
    }

    async fn deployment_action<B: Serialize>(
        &self,
        id: &str,
        action: &str,
        body: &B,
    ) -> Result<DeploymentUpdateResponse> {
        let path = format!("/v1/deployment/{}/{action}", segment(id));
        self.post(&path, &any_namespace(), body).await
    }

    /// Marks a deployment's allocations (ids or unique prefixes) healthy or not.
    pub async fn allocation_health(
        &self,
        id: &str,
        request: &AllocHealthRequest,
    ) -> Result<DeploymentUpdateResponse> {
        self.deployment_action(id, "allocation-health", request)
            .await
    }

    // Allocations.

    pub async fn allocations(&self) -> Result<Indexed<Vec<AllocationView>>> {
        self.get("/v1/allocations", &[]).await
    }

    /// The allocations of one job.
    pub async fn job_allocations(&self, job: &str) -> Result<Indexed<Vec<AllocationView>>> {
        self.get("/v1/allocations", &[("job", job.to_string())])
            .await
    }

    /// One allocation by id or unique id prefix, in any namespace.
    pub async fn allocation(&self, id: &str) -> Result<Indexed<AllocationView>> {
        self.get(&format!("/v1/allocation/{}", segment(id)), &any_namespace())
            .await
    }

    pub async fn stop_allocation(&self, id: &str) -> Result<StopResponse> {
        let path = format!("/v1/allocation/{}/stop", segment(id));
        self.post(&path, &any_namespace(), &serde_json::Map::new())
            .await
    }

    /// Restarts the allocation's running tasks in place (`task`: only
    /// that one), as Nomad's `alloc restart`.
    pub async fn restart_allocation(
        &self,
        id: &str,
        task: Option<&str>,
    ) -> Result<RestartResponse> {
        let path = format!("/v1/client/allocation/{}/restart", segment(id));
        let body = RestartRequestBody {
            task_name: task.unwrap_or_default().to_string(),
            all_tasks: false,
        };
        self.post(&path, &any_namespace(), &body).await
    }

    // Nodes.

    pub async fn nodes(&self) -> Result<Indexed<Vec<NodeView>>> {
        self.get("/v1/nodes", &[]).await
    }

    /// One node by id, unique id prefix or name.
    pub async fn node(&self, reference: &str) -> Result<Indexed<NodeDetail>> {
        self.get(&format!("/v1/node/{}", segment(reference)), &[])
            .await
    }

    pub async fn drain(&self, node: &str, request: &DrainRequest) -> Result<SchedulingResponse> {
        let path = format!("/v1/node/{}/drain", segment(node));
        self.post(&path, &[], request).await
    }

    pub async fn eligibility(&self, node: &str, eligible: bool) -> Result<SchedulingResponse> {
        let path = format!("/v1/node/{}/eligibility", segment(node));
        self.post(&path, &[], &EligibilityRequest { eligible })
            .await
    }

    /// Makes a join token (management).
    pub async fn create_join_token(&self, request: &JoinTokenRequest) -> Result<JoinTokenResponse> {
        self.post("/v1/node/join-tokens", &[], request).await
    }

    /// Trades a join token for this node's own etcd credentials.
    pub async fn join(&self, request: &JoinRequest) -> Result<JoinResponse> {
        self.post("/v1/node/join", &[], request).await
    }

    // Operator.

    /// The metrics scrape token (management), made on first use.
    pub async fn scrape_token(&self) -> Result<ScrapeTokenResponse> {
        Ok(self.get("/v1/operator/scrape-token", &[]).await?.value)
    }

    /// Replaces the metrics scrape token (management).
    pub async fn rotate_scrape_token(&self) -> Result<ScrapeTokenResponse> {
        self.post(
            "/v1/operator/scrape-token/rotate",
            &[],
            &serde_json::json!({}),
        )
        .await
    }

    // Namespaces.

    pub async fn namespaces(&self) -> Result<Vec<NamespaceView>> {
        Ok(self.get("/v1/namespaces", &[]).await?.value)
    }

    pub async fn namespace_view(&self, name: &str) -> Result<NamespaceView> {
        let path = format!("/v1/namespace/{}", segment(name));
        Ok(self.get(&path, &[]).await?.value)
    }

    /// Creates or updates namespace `name`; what `request` leaves out
    /// keeps its value.
    pub async fn apply_namespace(
        &self,
        name: &str,
        request: &NamespaceRequest,
    ) -> Result<NamespaceView> {
        self.post(&format!("/v1/namespace/{}", segment(name)), &[], request)
            .await
    }

    pub async fn delete_namespace(&self, name: &str) -> Result<NamespaceView> {
        self.delete(&format!("/v1/namespace/{}", segment(name)), &[])
            .await
    }

    // ACLs.

    /// The first management token; refused once done.
    pub async fn acl_bootstrap(&self) -> Result<TokenView> {
        self.post("/v1/acl/bootstrap", &[], &serde_json::json!({}))
            .await
    }

    pub async fn acl_policies(&self) -> Result<Vec<PolicyStub>> {
        Ok(self.get("/v1/acl/policies", &[]).await?.value)
    }

    pub async fn acl_policy(&self, name: &str) -> Result<AclPolicy> {
        let path = format!("/v1/acl/policy/{}", segment(name));
        Ok(self.get(&path, &[]).await?.value)
    }

    pub async fn put_acl_policy(&self, name: &str, body: &PolicyRequest) -> Result<PolicyWritten> {
        self.post(&format!("/v1/acl/policy/{}", segment(name)), &[], body)
            .await
    }

    pub async fn delete_acl_policy(&self, name: &str) -> Result<PolicyStub> {
        self.delete(&format!("/v1/acl/policy/{}", segment(name)), &[])
            .await
    }

    pub async fn acl_tokens(&self) -> Result<Vec<TokenView>> {
        Ok(self.get("/v1/acl/tokens", &[]).await?.value)
    }

    pub async fn create_acl_token(&self, body: &TokenRequest) -> Result<TokenView> {
        self.post("/v1/acl/token", &[], body).await
    }

    /// A token by accessor id (or unique prefix).
    pub async fn acl_token(&self, accessor: &str) -> Result<TokenView> {
        let path = format!("/v1/acl/token/{}", segment(accessor));
        Ok(self.get(&path, &[]).await?.value)
    }

    /// The token this client sends.
    pub async fn acl_token_self(&self) -> Result<TokenView> {
        Ok(self.get("/v1/acl/token/self", &[]).await?.value)
    }

    pub async fn delete_acl_token(&self, accessor: &str) -> Result<TokenView> {
        self.delete(&format!("/v1/acl/token/{}", segment(accessor)), &[])
            .await
    }

    // The generic calls every typed one is made of.

    /// `GET path` with `query` (the namespace is added unless given).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Indexed<T>> {
        self.send::<(), T>(Method::GET, path, query, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T> {
        Ok(self
            .send(Method::POST, path, query, Some(body))
            .await?
            .value)
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        Ok(self
            .send::<(), T>(Method::DELETE, path, query, None)
            .await?
            .value)
    }

    /// A raw request, for streams (logs, events); errors already mapped.
    pub async fn stream(&self, path: &str, query: &[(&str, String)]) -> Result<reqwest::Response> {
        let response = self
            .request(Method::GET, path, query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        check(response).await
    }

    /// A request with a raw body whose answer is returned as it came,
    /// errors included: the KV endpoints speak Consul (a 404 is "no such
    /// key", errors are plain text), so the caller reads the status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        let mut request = self.request(method, path, query);
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.map_err(|e| self.unreachable(e))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let mut params: Vec<(&str, String)> = query.to_vec();
        if !params.iter().any(|(k, _)| *k == "namespace") {
            params.push(("namespace", self.namespace.clone()));
        }
        let request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .query(&params);
        match &self.token {
            Some(token) => request.header("x-drover-token", token),
            None => request,
        }
    }

    async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Indexed<T>> {
        let mut request = self.request(method.clone(), path, query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let response = check(response).await?;
        let index = response
            .headers()
            .get("x-drover-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let what = || format!("{method} {path}");
        let bytes = response.bytes().await.map_err(|source| ClientError::Read {
            what: what(),
            source,
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            what: what(),
            source,
        })?;
        Ok(Indexed { index, value })
    }

    fn unreachable(&self, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            base: self.base.clone(),
            source,
        }
    }
}

/// A lookup by id across every namespace.
fn any_namespace() -> [(&'static str, String); 1] {
    [("namespace", "*".to_string())]
}

/// The query of a blocking read; none when `index` is 0 (nothing seen yet).
fn blocking(index: i64, wait: Duration) -> Vec<(&'static str, String)> {
    if index <= 0 {
        return Vec::new();
    }
    let millis = wait.as_millis().max(1);
    vec![
        ("index", index.to_string()),
        ("wait", format!("{millis}ms")),
    ]
}

fn job_path(name: &str, rest: &str) -> String {
    format!("/v1/job/{}{rest}", segment(name))
}

/// `s` as one URL path segment (names may hold `[`, `]`, `/` or spaces).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Passes a success through; turns an error answer into [`ClientError::Api`].
async fn check(response: reqwest::Response) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(ClientError::Api {
        status: status.as_u16(),
        body,
    })
}

/// `host:port` → `http://host:port`; no trailing slash.
pub fn normalize_addr(addr: &str) -> Result<String> {
    let addr = addr.trim().trim_end_matches('/');
    if addr.is_empty() {
        return Err(ClientError::Address("--addr is empty".into()));
    }
    if addr.starts_with("http://") || addr.starts_with("https://") {
        Ok(addr.to_string())
    } else if addr.contains("://") {
        Err(ClientError::Address(format!(
            "--addr {addr}: only http:// and https:// are supported"
        )))
    } else {
        Ok(format!("http://{addr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_a_scheme_and_lose_the_slash() {
        assert_eq!(
            normalize_addr("127.0.0.1:4646/").expect("ok"),
            "http://127.0.0.1:4646"
        );
        assert_eq!(
            normalize_addr("https://drover.example.com").expect("ok"),
            "https://drover.example.com"
        );
        assert!(normalize_addr("ftp://x").is_err());
        assert!(normalize_addr(" ").is_err());
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("web"), "web");
        assert_eq!(segment("web.front[0]"), "web.front%5B0%5D");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(
            job_path("nightly/periodic-1", "/children"),
            "/v1/job/nightly%2Fperiodic-1/children"
        );
    }

    #[test]
    fn a_job_files_namespace_wins_and_an_empty_one_leaves_the_clients() {
        let client = Client::new("127.0.0.1:4646", "staging").expect("client");
        let mut job = Job::named("web");
        assert_eq!(client.for_job(&job).namespace(), "staging");
        job.metadata.namespace = "prod".into();
        assert_eq!(client.for_job(&job).namespace(), "prod");
        assert_eq!(client.namespace(), "staging");
    }

    #[test]
    fn a_blocking_read_asks_only_after_an_index() {
        assert!(blocking(0, Duration::from_secs(5)).is_empty());
        assert_eq!(
            blocking(42, Duration::from_millis(1500)),
            [("index", "42".to_string()), ("wait", "1500ms".to_string())]
        );
        assert_eq!(blocking(7, Duration::ZERO)[1].1, "1ms");
    }

    #[tokio::test]
    async fn an_unreachable_server_says_where_it_looked() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let client = Client::new(&format!("127.0.0.1:{port}"), "default").expect("client");
        let err = client.jobs().await.expect_err("nothing listens");
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("http://127.0.0.1:{port}")),
            "{err}"
        );
    }
}
