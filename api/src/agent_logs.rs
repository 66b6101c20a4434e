//! Asking a node's agent for a task's logs: the URL, shared by the
//! server's proxy and `drover logs --etcd`, which sign it the same way
//! (`drover_serve::agent_token`).

/// What the agent is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogQuery {
    pub follow: bool,
    pub stderr: bool,
    pub tail: Option<u64>,
}

/// The agent's URL for one task's logs (pure); `https` when the agent
/// serves TLS.
pub fn agent_url(
    http_addr: &str,
    tls: bool,
    alloc: &str,
    task: &str,
    q: LogQuery,
) -> Option<reqwest::Url> {
    let scheme = if tls { "https" } else { "http" };
    let mut url = reqwest::Url::parse(&format!("{scheme}://{http_addr}/")).ok()?;
    url.path_segments_mut()
        .ok()?
        .clear()
        .extend(["v1", "client", "logs", alloc, task]);
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("follow", if q.follow { "true" } else { "false" });
        pairs.append_pair("stderr", if q.stderr { "true" } else { "false" });
        if let Some(n) = q.tail {
            pairs.append_pair("tail", &n.to_string());
        }
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_url_escapes_segments_and_passes_the_query() {
        let url = agent_url(
            "10.0.0.5:4647",
            false,
            "a1",
            "my task",
            LogQuery {
                follow: true,
                stderr: true,
                tail: Some(5),
            },
        )
        .expect("url");
        assert_eq!(
            url.as_str(),
            "http://10.0.0.5:4647/v1/client/logs/a1/my%20task?follow=true&stderr=true&tail=5"
        );
        assert!(agent_url("not a host", false, "a", "t", LogQuery::default()).is_none());
        let tls = agent_url("10.0.0.5:4647", true, "a1", "t", LogQuery::default());
        assert_eq!(
            tls.map(|u| u.scheme().to_string()).as_deref(),
            Some("https")
        );
    }
}
