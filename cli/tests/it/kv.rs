//! `drover kv` end to end: a real etcd, a `drover server`, and the
//! `drover` binary run as a user would — put (with --cas, --flags and
//! stdin), get (exact bytes, --recurse), list, delete — checking output
//! and exit codes.

use std::io::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

use drover_test_support::wait::eventually;
use drover_test_support::TestEtcd;

const DROVER: &str = env!("CARGO_BIN_EXE_drover");

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn kv(addr: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(DROVER)
        .arg("kv")
        .args(args)
        .env("DROVER_ADDR", addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run drover");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or_default()).expect("stdin");
    }
    child.wait_with_output().expect("drover output")
}

fn ok(addr: &str, args: &[&str]) -> Vec<u8> {
    let out = kv(addr, args, None);
    assert!(
        out.status.success(),
        "drover kv {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

/// A `drover server` with `extra` flags, once it answers; and its address.
async fn serving(etcd: &TestEtcd, extra: &[&str]) -> (Proc, String) {
    let port = free_port();
    let addr = format!("http://127.0.0.1:{port}");
    let server = Proc(
        Command::new(DROVER)
            .args([
                "server",
                &format!("--http-addr=127.0.0.1:{port}"),
                "--dns-addr=127.0.0.1:0",
            ])
            .args(extra)
            .arg(format!("--etcd={}", etcd.endpoints.join(",")))
            .arg(format!("--etcd-prefix={}", etcd.prefix))
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start drover server"),
    );
    eventually(30, "the server to answer", || {
        let addr = addr.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || kv(&addr, &["list"], None))
                .await
                .ok()?;
            out.status.success().then_some(())
        }
    })
    .await;
    (server, addr)
}

fn fails(addr: &str, args: &[&str]) -> String {
    let out = kv(addr, args, None);
    assert!(!out.status.success(), "drover kv {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_commands_put_get_list_and_delete() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let (_server, addr) = serving(&etcd, &[]).await;

    assert_eq!(
        text(ok(&addr, &["put", "app/config", "hello"])),
        "Success! Data written to: app/config\n"
    );
    assert_eq!(ok(&addr, &["get", "app/config"]), b"hello");

    // Exact bytes through stdin and back.
    let bytes: &[u8] = &[0, 159, 146, 150, b'\n'];
    let out = kv(&addr, &["put", "app/bin", "-", "--flags", "7"], Some(bytes));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ok(&addr, &["get", "app/bin"]), bytes);

    // --cas 0 only creates.
    let err = fails(&addr, &["put", "app/config", "again", "--cas", "0"]);
    assert!(err.contains("already exists"), "{err}");
    ok(&addr, &["put", "app/new", "x", "--cas", "0"]);
    let err = fails(&addr, &["put", "app/new", "y", "--cas", "1"]);
    assert!(err.contains("changed since index 1"), "{err}");

    ok(&addr, &["put", "app/sub/a", "1"]);
    ok(&addr, &["put", "other", "2"]);
    assert_eq!(text(ok(&addr, &["list"])), "app/\nother\n");
    assert_eq!(
        text(ok(&addr, &["list", "app/"])),
        "app/bin\napp/config\napp/new\napp/sub/\n"
    );
    assert_eq!(
        text(ok(&addr, &["list", "app/", "--separator", ""])),
        "app/bin\napp/config\napp/new\napp/sub/a\n"
    );
    assert_eq!(text(ok(&addr, &["list", "nothing/"])), "");
    let recursive = text(ok(&addr, &["get", "app/sub", "--recurse"]));
    assert_eq!(recursive, "app/sub/a:1\n");

    let err = fails(&addr, &["get", "missing"]);
    assert!(err.contains("no key \"missing\""), "{err}");

    assert_eq!(
        text(ok(&addr, &["delete", "app/config"])),
        "Success! Deleted key: app/config\n"
    );
    fails(&addr, &["get", "app/config"]);
    ok(&addr, &["delete", "app/", "--recurse"]);
    assert_eq!(text(ok(&addr, &["list"])), "other\n");
}

/// A server's KV caps hold: past `--kv-max-keys` or `--kv-max-bytes` a put
/// is refused with the reason, and room comes back when keys go.
#[tokio::test(flavor = "multi_thread")]
async fn the_kv_refuses_writes_past_its_caps() {
    let etcd = TestEtcd::shared_or_spawn().await.expect("etcd");
    let (_server, addr) = serving(&etcd, &["--kv-max-keys=3", "--kv-max-bytes=4096"]).await;
    ok(&addr, &["put", "a", "1"]);
    ok(&addr, &["put", "b", "2"]);
    ok(&addr, &["put", "c", "3"]);
    // The usage follows a watch: wait until it has seen the three keys.
    let full = eventually(10, "the fourth key refused", || {
        let addr = addr.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || kv(&addr, &["put", "d", "4"], None))
                .await
                .ok()?;
            (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).to_string())
        }
    })
    .await;
    assert!(full.contains("--kv-max-keys"), "{full}");
    ok(&addr, &["put", "a", "rewritten"]);

    let big = vec![b'x'; 5000];
    let out = kv(&addr, &["put", "b", "-"], Some(&big));
    assert!(!out.status.success(), "5000 bytes past a 4096-byte cap");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--kv-max-bytes"), "{said}");

    ok(&addr, &["delete", "c"]);
    eventually(10, "room for a new key", || {
        let addr = addr.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || kv(&addr, &["put", "d", "4"], None))
                .await
                .ok()?;
            out.status.success().then_some(())
        }
    })
    .await;
}
