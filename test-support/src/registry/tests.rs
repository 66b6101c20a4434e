use super::*;

fn content() -> ImageContent {
    ImageContent::new(b"not really a tar", &["/bin/sh".to_string()]).expect("content")
}

#[test]
fn digests_are_sha256_in_lowercase_hex() {
    assert_eq!(
        digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        digest(b"abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn the_manifest_names_the_config_and_layer_by_digest_and_size() {
    let c = content();
    let m: serde_json::Value = serde_json::from_slice(&c.manifest).expect("json");
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], MANIFEST_V2);
    assert_eq!(m["config"]["mediaType"], CONFIG_V1);
    assert_eq!(m["config"]["digest"], c.config_digest.as_str());
    assert_eq!(m["config"]["size"], c.config.len());
    let layers = m["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], LAYER_TAR_GZIP);
    assert_eq!(layers[0]["digest"], c.layer_digest.as_str());
    assert_eq!(layers[0]["size"], c.layer.len());
    assert_eq!(c.manifest_digest, digest(&c.manifest));
    assert_eq!(c.config_digest, digest(&c.config));
    assert_eq!(c.layer_digest, digest(&c.layer));
}

#[test]
fn the_config_carries_the_cmd_and_the_uncompressed_diff_id() {
    let c = content();
    let config: serde_json::Value = serde_json::from_slice(&c.config).expect("json");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], docker_arch());
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(
        config["rootfs"]["diff_ids"],
        serde_json::json!([digest(b"not really a tar")])
    );
    // The layer is gzip (magic 1f 8b) and decompresses to the tar.
    assert_eq!(&c.layer[..2], &[0x1f, 0x8b]);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&c.layer[..]), &mut out)
        .expect("gunzip");
    assert_eq!(out, b"not really a tar");
}

#[test]
fn paths_route_to_manifests_and_blobs_of_nested_names() {
    assert_eq!(route("/v2/"), Route::Ping);
    assert_eq!(route("/v2"), Route::Ping);
    assert_eq!(
        route("/v2/drover/busybox/manifests/pull"),
        Route::Manifest {
            name: "drover/busybox",
            reference: "pull"
        }
    );
    assert_eq!(
        route("/v2/a/b/c/blobs/sha256:00"),
        Route::Blob {
            name: "a/b/c",
            digest: "sha256:00"
        }
    );
    assert_eq!(route("/v2/x/tags/list"), Route::Unknown);
    assert_eq!(route("/v2/manifests/x"), Route::Unknown);
    assert_eq!(route("/other"), Route::Unknown);
}

#[test]
fn basic_auth_needs_the_exact_credentials() {
    let mut headers = HeaderMap::new();
    assert!(!basic_auth_matches(&headers, "u", "p"));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic dTpw"), // u:p
    );
    assert!(basic_auth_matches(&headers, "u", "p"));
    assert!(!basic_auth_matches(&headers, "u", "q"));
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer dTpw"),
    );
    assert!(!basic_auth_matches(&headers, "u", "p"));
}

#[test]
fn errors_have_the_registry_shape() {
    let body: serde_json::Value = serde_json::from_slice(&error_body(
        "MANIFEST_UNKNOWN",
        "manifest unknown",
        serde_json::json!({"Tag": "x"}),
    ))
    .expect("json");
    assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
    assert_eq!(body["errors"][0]["message"], "manifest unknown");
}

async fn get(client: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::Response {
    client.request(method, url).send().await.expect("request")
}

#[tokio::test]
async fn serves_the_manifest_and_blobs_and_404s_the_unknown() {
    let registry = TestRegistry::serve(content(), RegistryOptions::default())
        .await
        .expect("registry");
    let base = format!("http://{}", registry.host());
    let client = reqwest::Client::new();
    assert_eq!(
        registry.image("drover/busybox", "pull"),
        format!("{}/drover/busybox:pull", registry.host())
    );

    let r = get(&client, reqwest::Method::GET, format!("{base}/v2/")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    let c = registry.content().clone();
    for reference in ["pull", c.manifest_digest.as_str()] {
        let url = format!("{base}/v2/drover/busybox/manifests/{reference}");
        let r = get(&client, reqwest::Method::HEAD, url.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["docker-content-digest"],
            c.manifest_digest.as_str()
        );
        assert_eq!(r.headers()["content-type"], MANIFEST_V2);
        assert_eq!(
            r.headers()["content-length"],
            c.manifest.len().to_string().as_str()
        );
        let r = get(&client, reqwest::Method::GET, url).await;
        assert_eq!(
            r.headers()["docker-content-digest"],
            c.manifest_digest.as_str()
        );
        assert_eq!(r.bytes().await.expect("body"), c.manifest);
    }
    for (d, blob) in [(&c.config_digest, &c.config), (&c.layer_digest, &c.layer)] {
        let url = format!("{base}/v2/drover/busybox/blobs/{d}");
        let r = get(&client, reqwest::Method::GET, url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.expect("body"), blob);
    }
    assert!(registry.served_pull("drover/busybox"));

    let code = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 404);
        let body: serde_json::Value = r.json().await.expect("json");
        body["errors"][0]["code"].as_str().unwrap_or("").to_string()
    };
    let r = get(
        &client,
        reqwest::Method::GET,
        format!("{base}/v2/drover/busybox/manifests/missing"),
    )
    .await;
    assert_eq!(code(r).await, "MANIFEST_UNKNOWN");
    let r = get(
        &client,
        reqwest::Method::GET,
        format!("{base}/v2/nobody/manifests/pull"),
    )
    .await;
    assert_eq!(code(r).await, "NAME_UNKNOWN");
    let r = get(
        &client,
        reqwest::Method::GET,
        format!("{base}/v2/drover/busybox/blobs/sha256:00"),
    )
    .await;
    assert_eq!(code(r).await, "BLOB_UNKNOWN");
    assert!(!registry.served_pull("nobody"));
    let requests = registry.requests();
    assert_eq!(requests[0].path, "/v2/");
    assert!(requests.iter().all(|r| r.authorized));
}

#[tokio::test]
async fn with_basic_auth_only_the_right_credentials_pass() {
    let options = RegistryOptions::default().with_basic_auth("u", "p");
    let registry = TestRegistry::serve(content(), options)
        .await
        .expect("registry");
    let url = format!(
        "http://{}/v2/drover/busybox/manifests/pull",
        registry.host()
    );
    let client = reqwest::Client::new();

    let r = client.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"test\"");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    let r = client
        .get(&url)
        .basic_auth("u", Some("wrong"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);

    let r = client
        .get(&url)
        .basic_auth("u", Some("p"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);

    let authorized: Vec<bool> = registry.requests().iter().map(|r| r.authorized).collect();
    assert_eq!(authorized, vec![false, false, true]);
}

fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI")
}

/// Removes the image when dropped.
struct Rmi(String);

impl Drop for Rmi {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pulls_the_busybox_image_over_plain_http_and_runs_it() {
    let options = RegistryOptions::default().with_cmd(&["echo", "hello from the registry"]);
    let registry = TestRegistry::start(options).await.expect("registry");
    let image = registry.image("drover/busybox", "pull");
    let _rmi = Rmi(image.clone());
    let _ = docker(&["rmi", "-f", &image]);

    let pull = tokio::task::spawn_blocking({
        let image = image.clone();
        move || docker(&["pull", &image])
    })
    .await
    .expect("join");
    assert!(
        pull.status.success(),
        "docker pull {image}: {}",
        String::from_utf8_lossy(&pull.stderr)
    );
    assert!(
        registry.served_pull("drover/busybox"),
        "{:?}",
        registry.requests()
    );
    let run = docker(&["run", "--rm", &image]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "hello from the registry"
    );
    let run = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "sleep 0; echo $((6 * 7))",
    ]);
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "42");

    let missing = registry.image("drover/busybox", "missing");
    let pull = docker(&["pull", &missing]);
    assert!(!pull.status.success());
    let stderr = String::from_utf8_lossy(&pull.stderr);
    assert!(
        stderr.contains("not found") || stderr.contains("manifest unknown"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_without_credentials_is_refused() {
    let options = RegistryOptions::default().with_basic_auth("u", "p");
    let registry = TestRegistry::start(options).await.expect("registry");
    let image = registry.image("drover/busybox", "pull");
    let _rmi = Rmi(image.clone());
    let pull = tokio::task::spawn_blocking({
        let image = image.clone();
        move || docker(&["pull", &image])
    })
    .await
    .expect("join");
    assert!(!pull.status.success());
    let requests = registry.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| !r.authorized && r.status == 401),
        "{requests:?}"
    );
    assert!(!registry.served_pull("drover/busybox"));
}
