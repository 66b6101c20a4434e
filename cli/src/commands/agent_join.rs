//! An agent's own etcd identity: `--join-token` traded once with a server
//! (`POST /v1/node/join`) for a user whose role reaches only this node's
//! keys; the credentials are kept in `<data dir>/etcd-credentials.json`
//! (0600) and used on every later start.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use drover_api::nodes::{JoinRequest, JoinResponse};
use drover_store::StoreConfig;

use super::client::ApiArgs;

const CREDENTIALS_FILE: &str = "etcd-credentials.json";

fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CREDENTIALS_FILE)
}

/// The credentials kept in the data dir, if any.
fn read_credentials(data_dir: &Path) -> anyhow::Result<Option<JoinResponse>> {
    let path = credentials_path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{}: not drover etcd credentials (remove it and join again)",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the credentials 0600, whole or not at all.
fn write_credentials(data_dir: &Path, credentials: &JoinResponse) -> anyhow::Result<()> {
    let path = credentials_path(data_dir);
    let tmp = data_dir.join(format!(".{CREDENTIALS_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let bytes = serde_json::to_vec(credentials).context("encoding the credentials")?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// `etcd` with this node's own credentials: those kept in the data dir, or
/// those a server gives for `join_token`. Credentials given as flags win;
/// with neither, `etcd` as it is.
pub async fn node_credentials(
    data_dir: &Path,
    join_token: Option<&str>,
    api: &ApiArgs,
    mut etcd: StoreConfig,
) -> anyhow::Result<StoreConfig> {
    if etcd.username.is_some() {
        return Ok(etcd);
    }
    let kept = read_credentials(data_dir)?;
    let credentials = match (kept, join_token) {
        (Some(kept), _) => kept,
        (None, None) => return Ok(etcd),
        (None, Some(token)) => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
            let node_id =
                drover_node_agent::fingerprint::node_id(data_dir).context("reading the node id")?;
            let request = JoinRequest {
                token: token.to_string(),
                node_id,
            };
            let joined = api
                .client()?
                .join(&request)
                .await
                .context("joining with --join-token (the server at --addr/DROVER_ADDR)")?;
            write_credentials(data_dir, &joined)?;
            tracing::info!(user = %joined.username, "joined: this node's etcd credentials are kept in the data dir");
            joined
        }
    };
    etcd.username = Some(credentials.username);
    etcd.password = Some(credentials.password);
    Ok(etcd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn credentials_are_kept_owner_only_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let creds = JoinResponse {
            username: "drover-node-x".into(),
            password: "secret".into(),
        };
        write_credentials(dir.path(), &creds).expect("write");
        let mode = std::fs::metadata(credentials_path(dir.path()))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_credentials(dir.path()).expect("read"), Some(creds));
        std::fs::write(credentials_path(dir.path()), "junk").expect("junk");
        assert!(read_credentials(dir.path()).is_err());
    }
}
