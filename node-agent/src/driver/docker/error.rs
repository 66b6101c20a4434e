//! [`DriverError`]: what went wrong talking to Docker, with the container or
//! image it concerned.

use bollard::errors::Error as BollardError;

/// Why a Docker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// `DOCKER_HOST` names a scheme this build cannot use.
    #[error("cannot use the Docker host {host}: {source}")]
    Host {
        host: String,
        #[source]
        source: BollardError,
    },
    /// The daemon did not answer (not running, no permission on the socket,
    /// or an API version it refuses).
    #[error("cannot reach the Docker daemon at {host}: {source}; is dockerd running and is its socket readable by this user?")]
    Unreachable {
        host: String,
        #[source]
        source: BollardError,
    },
    /// The image is not on the node and could not be pulled.
    #[error("image {image} is not available: {reason}")]
    ImageUnavailable { image: String, reason: String },
    /// The spec cannot be expressed as a Docker container.
    #[error("invalid container spec for {name}: {reason}")]
    InvalidSpec { name: String, reason: String },
    /// Another container already has this name.
    #[error("a container named {name} already exists: {message}")]
    NameInUse { name: String, message: String },
    /// No container with this name or id.
    #[error("no container {container}")]
    NotFound { container: String },
    /// Any other failure of an operation on one container.
    #[error("Docker could not {action} container {container}: {source}")]
    Container {
        action: &'static str,
        container: String,
        #[source]
        source: BollardError,
    },
    /// A failure not tied to one container (listing, image inspection).
    #[error("Docker could not {action}: {source}")]
    Daemon {
        action: String,
        #[source]
        source: BollardError,
    },
    /// The container did not stop even after SIGKILL.
    #[error("container {container} is still running {waited_secs}s after SIGKILL")]
    StopTimeout { container: String, waited_secs: u64 },
}

impl DriverError {
    /// Docker still removes a container of that name (`docker rm -f` from
    /// outside): a create must wait for the removal, then try again.
    pub fn is_removal_in_progress(&self) -> bool {
        match self {
            DriverError::NameInUse { message, .. }
            | DriverError::InvalidSpec {
                reason: message, ..
            } => removal_in_progress(message),
            DriverError::Container { source, .. } => {
                server_error(source).is_some_and(|(_, m)| removal_in_progress(m))
            }
            _ => false,
        }
    }
}

/// Docker's 409 answers while a container is being removed.
pub fn removal_in_progress(message: &str) -> bool {
    message.contains("marked for removal") || message.contains("removal in progress")
}

/// The HTTP status and message of an error the daemon answered with.
pub(crate) fn server_error(err: &BollardError) -> Option<(u16, &str)> {
    match err {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

/// Whether the daemon said "no such container" (or image).
pub(crate) fn is_not_found(err: &BollardError) -> bool {
    matches!(server_error(err), Some((404, _)))
}

/// Maps an error of an operation on `container`.
pub(crate) fn container_err(
    action: &'static str,
    container: &str,
    source: BollardError,
) -> DriverError {
    if is_not_found(&source) {
        return DriverError::NotFound {
            container: container.to_string(),
        };
    }
    DriverError::Container {
        action,
        container: container.to_string(),
        source,
    }
}
