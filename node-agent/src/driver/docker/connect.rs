//! The connection to the daemon and the API version both sides speak.

use bollard::errors::Error as BollardError;
use bollard::{ClientVersion, API_DEFAULT_VERSION};

use super::error::server_error;
use super::DriverError;

/// How long bollard waits for the head of each answer, in seconds (a
/// stream, such as a pull's progress or followed logs, then runs on).
const REQUEST_TIMEOUT_SECS: u64 = 120;

fn connect_at(host: &str, version: &ClientVersion) -> Result<bollard::Docker, BollardError> {
    if host.starts_with("unix://") {
        bollard::Docker::connect_with_unix(host, REQUEST_TIMEOUT_SECS, version)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        bollard::Docker::connect_with_http(host, REQUEST_TIMEOUT_SECS, version)
    } else {
        bollard::Docker::connect_with_host(host)
    }
}

/// Connects at bollard's API version and steps down to the daemon's when it
/// is older. An old daemon refuses even `/version` at a newer API version,
/// saying "Maximum supported API version is X": then X is used.
pub(super) async fn negotiate(host: &str) -> Result<bollard::Docker, DriverError> {
    let unreachable = |source| DriverError::Unreachable {
        host: host.to_string(),
        source,
    };
    let client = connect_at(host, API_DEFAULT_VERSION).map_err(unreachable)?;
    match client.version().await {
        Ok(_) => client.negotiate_version().await.map_err(unreachable),
        Err(e) => {
            let Some(max) = server_error(&e).and_then(|(_, m)| max_api_version(m)) else {
                return Err(unreachable(e));
            };
            let client = connect_at(host, &max).map_err(unreachable)?;
            client.version().await.map_err(unreachable)?;
            Ok(client)
        }
    }
}

/// X from the daemon's "client version ... is too new. Maximum supported
/// API version is X".
fn max_api_version(message: &str) -> Option<ClientVersion> {
    const MARK: &str = "Maximum supported API version is ";
    let rest = &message[message.find(MARK)? + MARK.len()..];
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (major, minor) = version.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.trim_end_matches('.').parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemons_maximum_api_version_is_read_from_its_refusal() {
        let v = max_api_version(
            "client version 1.53 is too new. Maximum supported API version is 1.41",
        )
        .expect("a version");
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let v = max_api_version("... Maximum supported API version is 1.43.").expect("v");
        assert_eq!((v.major_version, v.minor_version), (1, 43));
        assert!(max_api_version("no such container").is_none());
    }
}
