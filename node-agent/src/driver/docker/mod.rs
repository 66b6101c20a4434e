//! The bollard shell: [`Docker`] turns the driver's plain data
//! ([`ContainerSpec`], [`Observed`]) into Docker API calls and back. The
//! translations are pure and live in `convert`; this file only talks.
//!
//! The connection follows `DOCKER_HOST` (default: the local socket) and
//! negotiates the API version on first use, so an older daemon (API 1.41)
//! and a newer one both work and a daemon started after the agent is found.

mod connect;
mod convert;
mod error;

use std::collections::HashMap;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions,
};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::OnceCell;
use tokio::time::Instant;

pub use error::DriverError;

use self::connect::negotiate;
use self::error::{container_err, is_not_found, server_error};
use super::{ContainerSpec, Observed};

/// The daemon's address when `DOCKER_HOST` is unset.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// How often [`Docker::stop`] looks whether the container has exited.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How long to wait for a container to die after SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Whether the node can run Docker tasks, for the node's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverHealth {
    pub healthy: bool,
    /// The daemon's version, when it answered.
    pub version: Option<String>,
    /// "Docker 20.10.24 (API 1.41)", or the error when unhealthy.
    pub description: String,
}

pub use super::RegistryAuth;

/// How [`Docker::stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// It was not running.
    NotRunning,
    /// It exited on the stop signal within the timeout.
    Exited,
    /// It outlived the timeout and was killed with SIGKILL.
    Killed,
}

/// Which stream a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A chunk of a container's output (not necessarily one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: LogStream,
    pub bytes: Bytes,
}

/// What [`Docker::logs`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming until the container stops.
    pub follow: bool,
    /// Only the last this many lines (`None`: all).
    pub tail: Option<u64>,
    pub stdout: bool,
    pub stderr: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            follow: false,
            tail: None,
            stdout: true,
            stderr: true,
        }
    }
}

/// An exec started with its streams attached ([`Docker::exec_attached`]).
pub struct AttachedExec {
    /// Docker's exec id (for resizing and the exit code).
    pub id: String,
    /// Its stdout and stderr (a terminal's output is stdout).
    pub output: std::pin::Pin<Box<dyn Stream<Item = Result<LogChunk, DriverError>> + Send>>,
    /// Its stdin; shutting it down closes the command's stdin.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// How much of an exec's output is kept (Consul keeps 4 KiB).
const MAX_EXEC_OUTPUT: usize = 4096;

/// The Docker daemon of this node.
pub struct Docker {
    host: String,
    client: OnceCell<bollard::Docker>,
}

impl Docker {
    /// A driver for the daemon named by `DOCKER_HOST` (default: the local
    /// socket). Nothing is contacted until the first call.
    pub fn new() -> Result<Self, DriverError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        Self::with_host(&host)
    }

    /// A driver for the daemon at `host` (`unix:///path`, `tcp://h:p`).
    pub fn with_host(host: &str) -> Result<Self, DriverError> {
        let known = ["unix://", "tcp://", "http://"];
        if !known.iter().any(|scheme| host.starts_with(scheme)) {
            // bollard's own error for the schemes this build cannot use.
            bollard::Docker::connect_with_host(host).map_err(|source| DriverError::Host {
                host: host.to_string(),
                source,
            })?;
        }
        Ok(Self {
            host: host.to_string(),
            client: OnceCell::new(),
        })
    }

    /// The daemon's address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The client, at an API version both sides speak.
    async fn client(&self) -> Result<&bollard::Docker, DriverError> {
        self.client.get_or_try_init(|| negotiate(&self.host)).await
    }

    /// Pings the daemon and reads its version.
    pub async fn health(&self) -> DriverHealth {
        match self.try_health().await {
            Ok((version, api)) => DriverHealth {
                healthy: true,
                description: format!("Docker {version} (API {api})"),
                version: Some(version),
            },
            Err(e) => DriverHealth {
                healthy: false,
                version: None,
                description: e.to_string(),
            },
        }
    }

    async fn try_health(&self) -> Result<(String, String), DriverError> {
        let client = self.client().await?;
        let unreachable = |source| DriverError::Unreachable {
            host: self.host.clone(),
            source,
        };
        client.ping().await.map_err(unreachable)?;
        let v = client.version().await.map_err(unreachable)?;
        Ok((
            v.version.unwrap_or_else(|| "unknown".into()),
            v.api_version.unwrap_or_else(|| "unknown".into()),
        ))
    }

    /// The allocation ids of this node's containers as they exit or are
    /// OOM-killed, as Docker reports them: workers react at once instead
    /// of at their next look. The stream ends when the daemon goes away.
    pub async fn exits(
        &self,
        node_id: &str,
    ) -> Result<impl Stream<Item = Result<String, DriverError>> + Send + 'static, DriverError> {
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            (
                "event".to_string(),
                vec!["die".to_string(), "oom".to_string()],
            ),
            (
                "label".to_string(),
                vec![format!("{}={node_id}", super::labels::NODE_ID)],
            ),
        ]);
        let options = bollard::query_parameters::EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let host = self.host.clone();
        let stream = self
            .client()
            .await?
            .events(Some(options))
            .map_err(move |source| DriverError::Unreachable {
                host: host.clone(),
                source,
            })
            .try_filter_map(|event| async move {
                Ok(event
                    .actor
                    .and_then(|a| a.attributes)
                    .and_then(|mut labels| labels.remove(super::labels::ALLOC_ID)))
            });
        Ok(stream)
    }

    /// Runs `cmd` in a running container (a script check): its exit code
    /// and combined output (cut to `MAX_EXEC_OUTPUT` bytes).
    pub async fn exec(
        &self,
        container: &str,
        cmd: &[String],
    ) -> Result<(i64, String), DriverError> {
        let client = self.client().await?;
        let created = client
            .create_exec(
                container,
                bollard::exec::CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| container_err("exec in", container, e))?;
        let mut output = String::new();
        if let bollard::exec::StartExecResults::Attached {
            output: mut stream, ..
        } = client
            .start_exec(&created.id, None)
            .await
            .map_err(|e| container_err("exec in", container, e))?
        {
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| container_err("read exec output of", container, e))?;
                if output.len() < MAX_EXEC_OUTPUT {
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
        }
        if output.len() > MAX_EXEC_OUTPUT {
            // Cut on a character boundary: truncate panics inside one.
            let mut end = MAX_EXEC_OUTPUT;
            while !output.is_char_boundary(end) {
                end -= 1;
            }
            output.truncate(end);
        }
        let inspected = client
            .inspect_exec(&created.id)
            .await
            .map_err(|e| container_err("inspect exec in", container, e))?;
        Ok((inspected.exit_code.unwrap_or(-1), output))
    }

    /// Starts `cmd` in a running container with its stdin, stdout and
    /// stderr attached (and a terminal with `tty`): what `drover alloc
    /// exec` runs. Docker has no way to kill an exec: it ends when its
    /// process does.
    pub async fn exec_attached(
        &self,
        container: &str,
        cmd: &[String],
        tty: bool,
    ) -> Result<AttachedExec, DriverError> {
        let client = self.client().await?;
        let created = client
            .create_exec(
                container,
                bollard::exec::CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(tty),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| container_err("exec in", container, e))?;
        let options = bollard::exec::StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        let started = client
            .start_exec(&created.id, Some(options))
            .await
            .map_err(|e| container_err("exec in", container, e))?;
        let bollard::exec::StartExecResults::Attached { output, input } = started else {
            return Err(DriverError::InvalidSpec {
                name: container.to_string(),
                reason: "Docker started the exec detached".into(),
            });
        };
        let name = container.to_string();
        let output = output
            .map_err(move |e| container_err("read exec output of", &name, e))
            .try_filter_map(|out| async move {
                Ok(match out {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => Some(LogChunk {
                        stream: LogStream::Stdout,
                        bytes: message,
                    }),
                    bollard::container::LogOutput::StdErr { message } => Some(LogChunk {
                        stream: LogStream::Stderr,
                        bytes: message,
                    }),
                    bollard::container::LogOutput::StdIn { .. } => None,
                })
            });
        Ok(AttachedExec {
            id: created.id,
            output: Box::pin(output),
            input,
        })
    }

    /// Sets the terminal size of exec `id`.
    pub async fn exec_resize(
        &self,
        container: &str,
        id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), DriverError> {
        self.client()
            .await?
            .resize_exec(id, bollard::exec::ResizeExecOptions { height, width })
            .await
            .map_err(|e| container_err("resize the exec terminal in", container, e))
    }

    /// Exec `id`'s exit code once it has exited; `None` while it runs.
    pub async fn exec_exit_code(
        &self,
        container: &str,
        id: &str,
    ) -> Result<Option<i64>, DriverError> {
        let inspected = self
            .client()
            .await?
            .inspect_exec(id)
            .await
            .map_err(|e| container_err("inspect exec in", container, e))?;
        if inspected.running == Some(true) {
            return Ok(None);
        }
        Ok(Some(inspected.exit_code.unwrap_or(-1)))
    }

    /// Whether the image is on the node.
    pub async fn image_present(&self, image: &str) -> Result<bool, DriverError> {
        match self.client().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(DriverError::Daemon {
                action: format!("inspect image {image}"),
                source,
            }),
        }
    }

    /// Pulls `image` without credentials, reporting progress lines.
    pub async fn pull(
        &self,
        image: &str,
        auth_soft_fail: bool,
        on_progress: impl FnMut(String),
    ) -> Result<(), DriverError> {
        self.pull_with_auth(image, None, auth_soft_fail, on_progress)
            .await
    }

    /// Pulls `image` with `auth`. With `auth_soft_fail`, an authentication
    /// failure is retried without credentials (Nomad's `auth_soft_fail`).
    pub async fn pull_with_auth(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        auth_soft_fail: bool,
        mut on_progress: impl FnMut(String),
    ) -> Result<(), DriverError> {
        let creds = auth.map(|a| DockerCredentials {
            username: a.username.clone(),
            password: a.password.clone(),
            serveraddress: a.server_address.clone(),
            identitytoken: a.identity_token.clone(),
            ..Default::default()
        });
        let first = self.pull_once(image, creds.clone(), &mut on_progress).await;
        match first {
            Err(DriverError::ImageUnavailable { reason, .. })
                if auth_soft_fail && creds.is_some() && looks_like_auth_failure(&reason) =>
            {
                on_progress(format!(
                    "authentication failed ({reason}); retrying without credentials"
                ));
                self.pull_once(image, None, &mut on_progress).await
            }
            other => other,
        }
    }

    async fn pull_once(
        &self,
        image: &str,
        creds: Option<DockerCredentials>,
        on_progress: &mut impl FnMut(String),
    ) -> Result<(), DriverError> {
        let unavailable = |reason: String| DriverError::ImageUnavailable {
            image: image.to_string(),
            reason,
        };
        let (repo, tag) = convert::split_image_ref(image);
        let mut opts = CreateImageOptionsBuilder::default().from_image(repo);
        if !tag.is_empty() {
            opts = opts.tag(tag);
        }
        let client = self.client().await?;
        let mut progress = client.create_image(Some(opts.build()), None, creds);
        while let Some(item) = progress.next().await {
            let info = item.map_err(|e| unavailable(pull_failure(&e)))?;
            if let Some(detail) = info.error_detail {
                return Err(unavailable(detail.message.unwrap_or_default()));
            }
            if let Some(status) = info.status {
                let progress = info.progress_detail.and_then(|p| p.current.zip(p.total));
                let line = match (info.id, progress) {
                    (Some(id), Some((cur, total))) => format!("{id}: {status} {cur}/{total}"),
                    (Some(id), None) => format!("{id}: {status}"),
                    _ => status,
                };
                on_progress(line);
            }
        }
        if self
            .image_present(&convert::normalized_image(image))
            .await?
        {
            Ok(())
        } else {
            Err(unavailable(
                "the pull ended but the image is not on the node".into(),
            ))
        }
    }

    /// Creates the container (not started); returns its id.
    pub async fn create(&self, spec: &ContainerSpec) -> Result<String, DriverError> {
        let body = convert::create_body(spec)?;
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let client = self.client().await?;
        match client.create_container(Some(opts), body).await {
            Ok(resp) => {
                for w in resp.warnings {
                    tracing::warn!(container = %spec.name, warning = %w, "docker create");
                }
                Ok(resp.id)
            }
            Err(e) => Err(create_err(spec, e)),
        }
    }

    /// Starts a created container.
    pub async fn start(&self, id: &str) -> Result<(), DriverError> {
        self.client()
            .await?
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| container_err("start", id, e))
    }

    /// Sends `signal` (default: the container's stop signal, else SIGTERM),
    /// waits up to `timeout` for it to exit, then SIGKILLs it: Nomad's
    /// `kill_signal` and `kill_timeout`.
    pub async fn stop(
        &self,
        id: &str,
        signal: Option<&str>,
        timeout: Duration,
    ) -> Result<StopOutcome, DriverError> {
        let client = self.client().await?;
        let resp = client
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_err("inspect", id, e))?;
        if !resp.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            return Ok(StopOutcome::NotRunning);
        }
        let signal = signal
            .map(str::to_string)
            .or_else(|| resp.config.and_then(|c| c.stop_signal))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "SIGTERM".to_string());
        if !self.kill(id, &signal).await? {
            return Ok(StopOutcome::NotRunning);
        }
        if self.wait_not_running(id, timeout).await? {
            return Ok(StopOutcome::Exited);
        }
        tracing::info!(container = %id, signal, ?timeout, "stop timeout passed; sending SIGKILL");
        self.kill(id, "SIGKILL").await?;
        if self.wait_not_running(id, KILL_GRACE).await? {
            Ok(StopOutcome::Killed)
        } else {
            Err(DriverError::StopTimeout {
                container: id.to_string(),
                waited_secs: KILL_GRACE.as_secs(),
            })
        }
    }

    /// Sends a signal; false when the container was not running.
    async fn kill(&self, id: &str, signal: &str) -> Result<bool, DriverError> {
        let opts = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        match self.client().await?.kill_container(id, Some(opts)).await {
            Ok(()) => Ok(true),
            Err(e) if matches!(server_error(&e), Some((409, _))) => Ok(false),
            Err(e) => Err(container_err("signal", id, e)),
        }
    }

    /// Polls until the container is not running; false on timeout.
    async fn wait_not_running(&self, id: &str, timeout: Duration) -> Result<bool, DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.inspect(id).await?.running {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(STOP_POLL.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }

    /// Removes the container, running or not, with its anonymous volumes.
    /// A container that is already gone is not an error.
    pub async fn remove(&self, id: &str) -> Result<(), DriverError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.client().await?.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // "removal of container ... is already in progress"
            Err(e) if matches!(server_error(&e), Some((409, m)) if m.contains("in progress")) => {
                Ok(())
            }
            Err(e) => Err(container_err("remove", id, e)),
        }
    }

    /// Every container, running or not, carrying the label `key=value`.
    pub async fn list(&self, label: (&str, &str)) -> Result<Vec<Observed>, DriverError> {
        let filter = format!("{}={}", label.0, label.1);
        let filters = HashMap::from([("label", vec![filter.as_str()])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let summaries = self
            .client()
            .await?
            .list_containers(Some(opts))
            .await
            .map_err(|source| DriverError::Daemon {
                action: format!("list containers labelled {filter}"),
                source,
            })?;
        let mut out = Vec::with_capacity(summaries.len());
        for id in summaries.into_iter().filter_map(|s| s.id) {
            match self.inspect(&id).await {
                Ok(o) => out.push(o),
                // Removed between the list and the inspect.
                Err(DriverError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The container's state.
    pub async fn inspect(&self, id: &str) -> Result<Observed, DriverError> {
        let resp = self
            .client()
            .await?
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_err("inspect", id, e))?;
        Ok(convert::observed(resp))
    }

    /// One sample of the container's resource usage (Docker's one-shot
    /// stats: no second sample to compute a rate from, so it answers at
    /// once); `None` when Docker sent nothing (the container just stopped).
    pub async fn stats(
        &self,
        id: &str,
    ) -> Result<Option<bollard::models::ContainerStatsResponse>, DriverError> {
        let opts = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let client = self.client().await?;
        let mut stream = std::pin::pin!(client.stats(id, Some(opts)));
        stream
            .next()
            .await
            .transpose()
            .map_err(|e| container_err("stats", id, e))
    }

    /// The raw inspect answer, for what [`Observed`] does not carry.
    pub async fn inspect_raw(
        &self,
        id: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, DriverError> {
        self.client()
            .await?
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_err("inspect", id, e))
    }

    /// The container's output; with `follow`, until it stops.
    pub async fn logs(
        &self,
        id: &str,
        opts: &LogOptions,
    ) -> Result<impl Stream<Item = Result<LogChunk, DriverError>> + Send + 'static, DriverError>
    {
        let tail = opts
            .tail
            .map_or_else(|| "all".to_string(), |n| n.to_string());
        let query = LogsOptionsBuilder::default()
            .follow(opts.follow)
            .stdout(opts.stdout)
            .stderr(opts.stderr)
            .tail(&tail)
            .build();
        let container = id.to_string();
        let stream = self
            .client()
            .await?
            .logs(id, Some(query))
            .map_err(move |e| container_err("read the logs of", &container, e))
            .try_filter_map(|out| async move {
                Ok(match out {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => Some(LogChunk {
                        stream: LogStream::Stdout,
                        bytes: message,
                    }),
                    bollard::container::LogOutput::StdErr { message } => Some(LogChunk {
                        stream: LogStream::Stderr,
                        bytes: message,
                    }),
                    bollard::container::LogOutput::StdIn { .. } => None,
                })
            });
        Ok(stream)
    }
}

fn create_err(spec: &ContainerSpec, e: BollardError) -> DriverError {
    match server_error(&e) {
        Some((404, m)) if m.contains("image") => DriverError::ImageUnavailable {
            image: spec.image.clone(),
            reason: format!("not on the node ({m}); pull it first"),
        },
        Some((409, m)) => DriverError::NameInUse {
            name: spec.name.clone(),
            message: m.to_string(),
        },
        _ => DriverError::Container {
            action: "create",
            container: spec.name.clone(),
            source: e,
        },
    }
}

/// The daemon's message for a failed pull, without bollard's prefix.
fn pull_failure(e: &BollardError) -> String {
    match server_error(e) {
        Some((_, m)) => m.to_string(),
        None => e.to_string(),
    }
}

fn looks_like_auth_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "unauthorized",
        "denied",
        "authentication required",
        "no basic auth",
    ]
    .iter()
    .any(|needle| r.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_are_recognised() {
        assert!(looks_like_auth_failure(
            "pull access denied for x, repository does not exist or may require 'docker login'"
        ));
        assert!(looks_like_auth_failure(
            "unauthorized: authentication required"
        ));
        assert!(!looks_like_auth_failure("manifest unknown"));
    }

    #[test]
    fn an_unknown_host_scheme_is_refused_up_front() {
        let err = Docker::with_host("gopher://x").err().expect("refused");
        assert!(err.to_string().contains("gopher://x"), "{err}");
    }
}
