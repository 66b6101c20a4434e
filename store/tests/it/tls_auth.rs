//! Connecting to a real etcd over TLS with client certificates, and with
//! username/password authentication.

use crate::common::{config, within};
use drover_store::{Guard, Store, StoreConfig, StoreError};
use drover_test_support::EtcdProcess;

/// Puts and reads back one key through `config`.
async fn put_and_get(config: StoreConfig) -> Result<Vec<u8>, StoreError> {
    let store = Store::connect(config).await?;
    let key = format!("{}/greeting", store.keys().prefix());
    store
        .put_raw(&key, b"hello".to_vec(), Guard::None, None)
        .await?;
    let kv = store.get_raw(&key).await?;
    Ok(kv.map(|kv| kv.value).unwrap_or_default())
}

/// An error, and not the request timeout: the server said no.
fn assert_refused(result: Result<Vec<u8>, StoreError>) {
    match result {
        Err(StoreError::Timeout { .. }) | Ok(_) => {
            panic!("expected a prompt error, got {result:?}")
        }
        Err(e) => eprintln!("refused as expected: {e}"),
    }
}

#[tokio::test]
async fn tls_with_client_certificate_round_trips() {
    let etcd = EtcdProcess::start_tls().await.expect("start TLS etcd");
    let tls = etcd.tls_files().expect("TLS files");
    assert!(etcd.endpoint().starts_with("https://"));
    let mut config = config(vec![etcd.endpoint()], "/tls-test");
    config.ca_file = Some(tls.ca.clone());
    config.cert_file = Some(tls.client_cert.clone());
    config.key_file = Some(tls.client_key.clone());

    let value = within(15, "put/get over TLS", put_and_get(config))
        .await
        .expect("put/get over TLS");
    assert_eq!(value, b"hello");
}

#[tokio::test]
async fn tls_without_client_certificate_is_refused() {
    let etcd = EtcdProcess::start_tls().await.expect("start TLS etcd");
    let tls = etcd.tls_files().expect("TLS files");
    let mut config = config(vec![etcd.endpoint()], "/tls-test");
    config.ca_file = Some(tls.ca.clone());

    // The handshake may fail at connect or only at the first request; either
    // way it must be an error, well before the test's deadline.
    let result = within(15, "refused TLS connection", put_and_get(config)).await;
    assert_refused(result);
}

#[tokio::test]
async fn username_and_password_are_checked() {
    let etcd = EtcdProcess::start().await.expect("start etcd");
    etcd.etcdctl(&["user", "add", "root:rootpw"])
        .expect("add root user");
    etcd.etcdctl(&["auth", "enable"]).expect("enable auth");

    let mut good = config(vec![etcd.endpoint()], "/auth-test");
    good.username = Some("root".into());
    good.password = Some("rootpw".into());
    let value = within(15, "put/get with password", put_and_get(good))
        .await
        .expect("put/get with the right password");
    assert_eq!(value, b"hello");

    let mut bad = config(vec![etcd.endpoint()], "/auth-test");
    bad.username = Some("root".into());
    bad.password = Some("wrong".into());
    let result = within(15, "wrong password", put_and_get(bad)).await;
    assert_refused(result);

    let anonymous = config(vec![etcd.endpoint()], "/auth-test");
    let result = within(15, "no credentials", put_and_get(anonymous)).await;
    assert_refused(result);
}
