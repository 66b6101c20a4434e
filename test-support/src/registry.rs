//! A Docker Registry (HTTP API v2, read-only) on loopback, so image pulls
//! can be tested without the internet.
//!
//! [`TestRegistry::start`] serves on `127.0.0.1:0` from a background tokio
//! task. Docker treats registries on 127.0.0.0/8 as insecure, so plain HTTP
//! works with no daemon configuration (dockerd tries TLS first, then falls
//! back to HTTP). The one image it holds is the busybox root filesystem of
//! [`crate::docker::busybox_rootfs_tar`], as a single gzipped layer with an
//! image manifest v2 schema 2, under every repository and tag of
//! [`RegistryOptions::images`]. Each registry's layer is distinct (a file
//! holds a unique id), so dockerd never finds it "Already exists" and a
//! pull always downloads both blobs.
//!
//! With [`RegistryOptions::basic_auth`] every request, `/v2/` included,
//! needs those credentials: without (or with wrong ones) the answer is 401
//! with `WWW-Authenticate: Basic realm="test"` and an `UNAUTHORIZED` body.
//! dockerd 20.10 pings `/v2/` without credentials, reads the Basic
//! challenge, then sends the credentials of `X-Registry-Auth` with every
//! later request; with none it fails the pull itself with "no basic auth
//! credentials", never asking for the manifest.
//!
//! Every request served is recorded ([`TestRegistry::requests`]) so a test
//! can tell a real pull from an image found locally.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::task::JoinHandle;

use crate::etcd::FixtureError;

/// Media type of an image manifest v2 schema 2.
pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of the image's config blob.
pub const CONFIG_V1: &str = "application/vnd.docker.container.image.v1+json";
/// Media type of a gzipped layer.
pub const LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What a [`TestRegistry`] serves and how.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// `(repository, tag)` pairs that name the image, e.g.
    /// `("drover/busybox", "pull")`. Other repositories answer
    /// `NAME_UNKNOWN`, other tags of these `MANIFEST_UNKNOWN`.
    pub images: Vec<(String, String)>,
    /// The image's default command (its config's `Cmd`).
    pub cmd: Vec<String>,
    /// `(username, password)` every request must carry as HTTP basic auth.
    pub basic_auth: Option<(String, String)>,
}

impl Default for RegistryOptions {
    /// `drover/busybox:pull`, `Cmd ["/bin/sh"]`, no authentication.
    fn default() -> Self {
        RegistryOptions {
            images: vec![("drover/busybox".into(), "pull".into())],
            cmd: vec!["/bin/sh".into()],
            basic_auth: None,
        }
    }
}

impl RegistryOptions {
    /// Requires HTTP basic auth with these credentials.
    pub fn with_basic_auth(mut self, username: &str, password: &str) -> Self {
        self.basic_auth = Some((username.into(), password.into()));
        self
    }

    /// Also serves the image as `repo:tag`.
    pub fn with_image(mut self, repo: &str, tag: &str) -> Self {
        self.images.push((repo.into(), tag.into()));
        self
    }

    /// The image's default command.
    pub fn with_cmd(mut self, cmd: &[&str]) -> Self {
        self.cmd = cmd.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// One request the registry answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRequest {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request path, e.g. `/v2/drover/busybox/manifests/pull`.
    pub path: String,
    /// Whether it passed the basic auth check (always true without one).
    pub authorized: bool,
    /// The status code answered.
    pub status: u16,
}

/// The blobs and manifest of the served image, with their digests.
#[derive(Clone, Debug)]
pub struct ImageContent {
    /// The image config JSON.
    pub config: Vec<u8>,
    /// `sha256:…` of [`Self::config`].
    pub config_digest: String,
    /// The gzipped layer tar.
    pub layer: Vec<u8>,
    /// `sha256:…` of [`Self::layer`].
    pub layer_digest: String,
    /// The manifest JSON (v2 schema 2).
    pub manifest: Vec<u8>,
    /// `sha256:…` of [`Self::manifest`]: the `Docker-Content-Digest`.
    pub manifest_digest: String,
}

impl ImageContent {
    /// An image of one layer, `layer_tar` (uncompressed; gzipped here),
    /// whose default command is `cmd`.
    pub fn new(layer_tar: &[u8], cmd: &[String]) -> Result<ImageContent, FixtureError> {
        let layer = gzip(layer_tar)?;
        let layer_digest = digest(&layer);
        let config = serde_json::json!({
            "architecture": docker_arch(),
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {
                "Cmd": cmd,
                "Env": ["PATH=/bin"],
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": [digest(layer_tar)],
            },
            "history": [{
                "created": "2024-01-01T00:00:00Z",
                "created_by": "drover-test-support registry: busybox-static rootfs",
            }],
        });
        let config = to_json(&config)?;
        let config_digest = digest(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": {
                "mediaType": CONFIG_V1,
                "size": config.len(),
                "digest": config_digest,
            },
            "layers": [{
                "mediaType": LAYER_TAR_GZIP,
                "size": layer.len(),
                "digest": layer_digest,
            }],
        });
        let manifest = to_json(&manifest)?;
        let manifest_digest = digest(&manifest);
        Ok(ImageContent {
            config,
            config_digest,
            layer,
            layer_digest,
            manifest,
            manifest_digest,
        })
    }

    fn blob(&self, digest: &str) -> Option<&[u8]> {
        if digest == self.config_digest {
            Some(&self.config)
        } else if digest == self.layer_digest {
            Some(&self.layer)
        } else {
            None
        }
    }
}

/// `sha256:` and the lowercase hex SHA-256 of `bytes`: an OCI digest.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, FixtureError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| FixtureError::from_msg(format!("gzip of the layer failed: {e}")))
}

fn to_json(value: &serde_json::Value) -> Result<Vec<u8>, FixtureError> {
    serde_json::to_vec(value).map_err(|e| FixtureError::from_msg(format!("JSON: {e}")))
}

/// The platform's architecture as Docker names it.
fn docker_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

/// What a `/v2/…` path asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    /// `/v2/`: the API version check.
    Ping,
    Manifest {
        name: &'a str,
        reference: &'a str,
    },
    Blob {
        name: &'a str,
        digest: &'a str,
    },
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/v2/") else {
        return if path == "/v2" {
            Route::Ping
        } else {
            Route::Unknown
        };
    };
    if rest.is_empty() {
        return Route::Ping;
    }
    // Names may hold slashes; the kind is the last but one segment.
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        if !name.is_empty() && !reference.is_empty() && !reference.contains('/') {
            return Route::Manifest { name, reference };
        }
    }
    if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        if !name.is_empty() && !digest.is_empty() && !digest.contains('/') {
            return Route::Blob { name, digest };
        }
    }
    Route::Unknown
}

/// The registry's error body: `{"errors":[{"code":…,"message":…,"detail":…}]}`.
fn error_body(code: &str, message: &str, detail: serde_json::Value) -> Vec<u8> {
    let body = serde_json::json!({
        "errors": [{"code": code, "message": message, "detail": detail}],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Whether `headers` carry `Authorization: Basic` with `user:password`.
fn basic_auth_matches(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    decoded == format!("{user}:{password}").as_bytes()
}

struct Shared {
    image: ImageContent,
    options: RegistryOptions,
    requests: Mutex<Vec<ServedRequest>>,
}

/// The answer before it becomes a response: status, content type, body and
/// extra headers.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(header::HeaderName, String)>,
}

impl Answer {
    fn ok(content_type: &'static str, body: Vec<u8>) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type,
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: StatusCode, code: &str, message: &str, detail: serde_json::Value) -> Answer {
        Answer::ok("application/json", error_body(code, message, detail)).with_status(status)
    }

    fn with_status(mut self, status: StatusCode) -> Answer {
        self.status = status;
        self
    }

    fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self, head: bool) -> Response {
        let length = self.body.len();
        let body = if head {
            Body::empty()
        } else {
            Body::from(self.body)
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

impl Shared {
    fn answer(&self, method: &Method, path: &str, authorized: bool) -> Answer {
        if !authorized {
            return Answer::error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required",
                serde_json::Value::Null,
            )
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"test\"");
        }
        if method != Method::GET && method != Method::HEAD {
            return Answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                "the operation is unsupported",
                serde_json::Value::Null,
            );
        }
        match route(path) {
            Route::Ping => Answer::ok("application/json", b"{}".to_vec()),
            Route::Manifest { name, reference } => {
                if !self.knows_repo(name) {
                    return name_unknown(name);
                }
                let known = reference == self.image.manifest_digest
                    || self
                        .options
                        .images
                        .iter()
                        .any(|(repo, tag)| repo == name && tag == reference);
                if !known {
                    return Answer::error(
                        StatusCode::NOT_FOUND,
                        "MANIFEST_UNKNOWN",
                        "manifest unknown",
                        serde_json::json!({ "Tag": reference }),
                    );
                }
                Answer::ok(MANIFEST_V2, self.image.manifest.clone()).with_header(
                    header::HeaderName::from_static("docker-content-digest"),
                    self.image.manifest_digest.clone(),
                )
            }
            Route::Blob { name, digest } => {
                if !self.knows_repo(name) {
                    return name_unknown(name);
                }
                match self.image.blob(digest) {
                    Some(blob) => Answer::ok("application/octet-stream", blob.to_vec())
                        .with_header(
                            header::HeaderName::from_static("docker-content-digest"),
                            digest,
                        ),
                    None => Answer::error(
                        StatusCode::NOT_FOUND,
                        "BLOB_UNKNOWN",
                        "blob unknown to registry",
                        serde_json::json!({ "digest": digest }),
                    ),
                }
            }
            Route::Unknown => Answer::error(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "the operation is unsupported",
                serde_json::Value::Null,
            ),
        }
    }

    fn knows_repo(&self, name: &str) -> bool {
        self.options.images.iter().any(|(repo, _)| repo == name)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        match &self.options.basic_auth {
            None => true,
            Some((user, password)) => basic_auth_matches(headers, user, password),
        }
    }
}

fn name_unknown(name: &str) -> Answer {
    Answer::error(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        "repository name not known to registry",
        serde_json::json!({ "name": name }),
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let authorized = shared.authorized(&headers);
    let answer = shared.answer(&method, &path, authorized);
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(ServedRequest {
            method: method.to_string(),
            path,
            authorized,
            status: answer.status.as_u16(),
        });
    answer.into_response(method == Method::HEAD)
}

/// The busybox rootfs tar with `/etc/drover-test-registry` holding an id
/// unique to this registry: dockerd skips the download of a layer it has
/// already ("Already exists"), so a shared layer would make a pull from a
/// second registry (or a second test) look like no pull at all.
fn busybox_layer_tar() -> Result<Vec<u8>, FixtureError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let id = format!(
        "{}-{}-{nanos}\n",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let scratch = tempfile::tempdir()
        .map_err(|e| FixtureError::from_msg(format!("cannot create a tempdir: {e}")))?;
    let path = scratch.path().join("layer.tar");
    crate::docker::busybox_rootfs_tar(&path, &[("etc/drover-test-registry", id.as_bytes())])?;
    std::fs::read(&path)
        .map_err(|e| FixtureError::from_msg(format!("cannot read the layer tar: {e}")))
}

/// A registry serving the busybox image on `127.0.0.1`; stops when dropped.
pub struct TestRegistry {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl TestRegistry {
    /// Builds the image (a tar of the busybox rootfs, distinct per registry)
    /// and serves it on a free port of 127.0.0.1 from a background task of the
    /// current tokio runtime.
    pub async fn start(options: RegistryOptions) -> Result<TestRegistry, FixtureError> {
        let tar = tokio::task::spawn_blocking(busybox_layer_tar)
            .await
            .map_err(|e| FixtureError::from_msg(format!("building the layer panicked: {e}")))??;
        let image = ImageContent::new(&tar, &options.cmd)?;
        Self::serve(image, options).await
    }

    /// Serves `image` (e.g. one made of another layer) as [`Self::start`]
    /// does.
    pub async fn serve(
        image: ImageContent,
        options: RegistryOptions,
    ) -> Result<TestRegistry, FixtureError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| FixtureError::from_msg(format!("cannot bind 127.0.0.1:0: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| FixtureError::from_msg(format!("local_addr: {e}")))?;
        let shared = Arc::new(Shared {
            image,
            options,
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TestRegistry { addr, shared, task })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The reference `127.0.0.1:PORT/repo:tag`.
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.host())
    }

    /// The image's blobs, manifest and digests.
    pub fn content(&self) -> &ImageContent {
        &self.shared.image
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<ServedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `repo`'s manifest and both blobs were sent (authorized
    /// `GET`s answered 200): a pull really happened.
    pub fn served_pull(&self, repo: &str) -> bool {
        let requests = self.requests();
        let got = |path: &str| {
            requests
                .iter()
                .any(|r| r.method == "GET" && r.status == 200 && r.authorized && r.path == path)
        };
        let manifest_by_digest = format!("/v2/{repo}/manifests/{}", self.content().manifest_digest);
        let manifest = requests.iter().any(|r| {
            r.method == "GET"
                && r.status == 200
                && r.authorized
                && r.path.starts_with(&format!("/v2/{repo}/manifests/"))
        }) || got(&manifest_by_digest);
        manifest
            && got(&format!(
                "/v2/{repo}/blobs/{}",
                self.content().config_digest
            ))
            && got(&format!("/v2/{repo}/blobs/{}", self.content().layer_digest))
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests;
