//! The etcd key layout: every key drover writes is built here.
//!
//! Keys are `<prefix>/<collection>/...` with the prefix from
//! [`StoreConfig::prefix`](crate::StoreConfig) (default `/drover`). Data
//! written by different owners lives in different collections, so one writer
//! never overwrites another's field and a watch on one collection does not
//! carry another's traffic.
//!
//! | key (after the prefix)                      | kind      | written by                       |
//! |---------------------------------------------|-----------|----------------------------------|
//! | `jobs/<ns>/<name>`                          | job spec  | apiserver (users)                |
//! | `jobs-status/<ns>/<name>`                   | job status| job controller                   |
//! | `jobs-versions/<ns>/<name>/<version:020>`   | history   | apiserver, on every spec change  |
//! | `jobs-placement/<ns>/<name>`                | why queued| placement controller             |
//! | `allocations/<ns>/<alloc-id>`               | alloc spec| job controller                   |
//! | `allocations-binding/<ns>/<alloc-id>`       | binding   | placement controller             |
//! | `allocations-status/<node-id>/<ns>/<id>`    | status    | the agent running it             |
//! | `node-allocs/<node-id>/<ns>/<alloc-id>`     | index     | placement / job controller       |
//! | `node-jobs/<node-id>/<ns>/<job>/<version>/<group>` | job copy (that group only) | node-jobs controller |
//! | `nodes-api-key/<node-id>`                   | secret    | servers (the node's API key)     |
//! | `nodes/<node-id>`                           | node reg. | the agent                        |
//! | `nodes-status/<node-id>`                    | status    | node lifecycle controller        |
//! | `nodes-heartbeat/<node-id>`                 | heartbeat | the agent, attached to its lease |
//! | `nodes-admin/<node-id>`                     | drain/elig| apiserver (operators)            |
//! | `services/<ns>/<name>`                      | service   | services controller              |
//! | `jobs-periodic/<ns>/<name>`                 | launches  | periodic controller              |
//! | `deployments/<ns>/<name>`                   | deployment| deployments controller           |
//! | `leaders/<election>`                        | election  | [`crate::election`]              |
//! | `servers/<name>`                            | server    | that `drover server`, on a lease |
//! | `kv/<consul key>`                           | KV value  | apiserver (Consul KV API)        |
//! | `namespaces/<name>`                         | namespace | apiserver (operators)            |
//! | `acl-policies/<name>`                       | ACL policy| apiserver (operators)            |
//! | `acl-tokens/<sha256 of the secret>`         | ACL token | apiserver (operators)            |
//! | `acl-bootstrap/done`                        | marker    | apiserver, once                  |
//! | `join-tokens/<sha256 of the secret>`        | join token| apiserver (operators)            |
//! | `secrets/scrape-token`                      | secret    | servers (the metrics scrape token)|
//! | `scrape-token-digest`                       | sha256    | servers, read by every node      |
//!
//! Generic kinds ([`ApiObject`]) follow `<PLURAL>/<ns>/<name>` when
//! namespaced and `<PLURAL>/<name>` otherwise, so `Keys::object::<Job>` and
//! `Keys::job` agree.
//!
//! # What one node touches
//! Everything an agent reads or writes is either one key named by its node
//! id (`nodes/<id>`, `nodes-heartbeat/<id>`, `nodes-api-key/<id>`) or under a
//! prefix that starts with it (`node-allocs/<id>/`, `node-jobs/<id>/`,
//! `allocations-status/<id>/`), so etcd's RBAC can give each node a role
//! that reaches its own state and nothing else ([`Keys::node_grants`]). The
//! one shared key every node reads is `scrape-token-digest`: the sha256 of
//! the token scrapers present, which tells a reader nothing it could use. A
//! status the servers write for an allocation never bound to a node (ended
//! before placement) sits under [`UNBOUND_NODE`], which no node id (a UUID)
//! can equal. The job copies under `node-jobs/` are what a node may read of
//! the jobs it runs: one per job version and group its allocations use,
//! holding that group alone.
//!
//! Why sibling collections (`nodes-status/`) instead of nesting
//! (`nodes/<id>/status`): a prefix listing of `nodes/` must return exactly the
//! node objects. The per-node assignment index `node-allocs/<node-id>/` is what
//! an agent watches, so its traffic is proportional to its own allocations.
//! Job versions are zero-padded so lexical key order is numeric order.
//! Every prefix returned here ends in `/`, so `jobs/` never matches
//! `jobs-status/` and namespace `a` never matches namespace `ab`.
//!
//! A segment may hold `/` (child jobs are `<parent>/periodic-<unix>`, as in
//! Nomad): each segment is written with `%` as `%25` and `/` as `%2F`, and
//! [`Keys::parse`] reads it back, so a name never shifts the layout and
//! `jobs-versions/<ns>/web/` never lists the versions of `web/periodic-1`.

use std::borrow::Cow;

use drover_api_types::ApiObject;

use crate::error::{Result, StoreError};

/// Builds keys under one prefix. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

/// Collection names, shared by builders and [`Keys::parse`].
pub mod collections {
    pub const JOBS: &str = "jobs";
    pub const JOBS_STATUS: &str = "jobs-status";
    pub const JOBS_VERSIONS: &str = "jobs-versions";
    pub const JOBS_PLACEMENT: &str = "jobs-placement";
    pub const ALLOCATIONS: &str = "allocations";
    pub const ALLOCATIONS_BINDING: &str = "allocations-binding";
    pub const ALLOCATIONS_STATUS: &str = "allocations-status";
    pub const NODE_ALLOCS: &str = "node-allocs";
    pub const NODES: &str = "nodes";
    pub const NODES_STATUS: &str = "nodes-status";
    pub const NODES_HEARTBEAT: &str = "nodes-heartbeat";
    pub const NODES_ADMIN: &str = "nodes-admin";
    pub const SERVICES: &str = "services";
    pub const JOBS_STABLE: &str = "jobs-stable";
    pub const JOBS_SOURCES: &str = "jobs-sources";
    pub const JOBS_PERIODIC: &str = "jobs-periodic";
    pub const DEPLOYMENTS: &str = "deployments";
    pub const DEPLOYMENTS_ADMIN: &str = "deployments-admin";
    pub const LEADERS: &str = "leaders";
    pub const SERVERS: &str = "servers";
    /// The Consul-compatible KV store; keys below it are the users' own
    /// (any bytes Consul allows, `/` included, empty segments too).
    pub const KV: &str = "kv";
    pub const NAMESPACES: &str = "namespaces";
    pub const ACL_POLICIES: &str = "acl-policies";
    /// Tokens by the hash of their secret, so a request's token is one
    /// lookup; never the secret itself.
    pub const ACL_TOKENS: &str = "acl-tokens";
    /// Created once by the first `acl bootstrap`; a second one finds it.
    pub const ACL_BOOTSTRAP: &str = "acl-bootstrap";
    /// Cluster secrets: `secrets/agent-api-key`, the key servers sign
    /// their requests to agents' HTTP APIs with.
    pub const SECRETS: &str = "secrets";
    /// The job versions a node's allocations run, copied for that node.
    pub const NODE_JOBS: &str = "node-jobs";
    /// Each node's own key for the servers' tokens (derived from
    /// `secrets/agent-api-key`), readable by that node alone.
    pub const NODES_API_KEY: &str = "nodes-api-key";
    /// One-use join tokens by the hash of their secret.
    pub const JOIN_TOKENS: &str = "join-tokens";
    /// The sha256 of the metrics scrape token (`secrets/scrape-token`):
    /// what agents check a scraper's bearer token against.
    pub const SCRAPE_TOKEN_DIGEST: &str = "scrape-token-digest";
}

/// The node segment of a status the servers wrote for an allocation that
/// was never bound (no node id, a UUID, can be this).
pub const UNBOUND_NODE: &str = "_unbound";

/// A status key split by [`Keys::parse_alloc_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusKey<'a> {
    /// `None` for an allocation never bound.
    pub node: Option<Cow<'a, str>>,
    pub namespace: Cow<'a, str>,
    pub id: Cow<'a, str>,
}

/// A node's job copy key split by [`Keys::parse_node_job`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeJobKey<'a> {
    pub node: Cow<'a, str>,
    pub namespace: Cow<'a, str>,
    pub job: Cow<'a, str>,
    pub version: u64,
    /// `None`: a whole-job copy, as written before copies held one group.
    pub group: Option<Cow<'a, str>>,
}

/// What a node's etcd role may do with one key or prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeGrant {
    /// The key, or the prefix when `prefix` is set.
    pub key: String,
    pub prefix: bool,
    pub write: bool,
}

use collections as c;

/// A key split into its parts by [`Keys::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The collection, e.g. `jobs` or `node-allocs`.
    pub collection: &'a str,
    /// The remaining segments, decoded, e.g. `["default", "web"]`.
    pub segments: Vec<Cow<'a, str>>,
}

/// `segment` as written in a key: `%` → `%25`, `/` → `%2F`.
pub fn encode_segment(segment: &str) -> Cow<'_, str> {
    if !segment.contains(['%', '/']) {
        return Cow::Borrowed(segment);
    }
    Cow::Owned(segment.replace('%', "%25").replace('/', "%2F"))
}

/// A segment as [`encode_segment`] wrote it, read back. Anything else
/// (a `%` not followed by `25` or `2F`) is kept as it is.
pub fn decode_segment(segment: &str) -> Cow<'_, str> {
    if !segment.contains('%') {
        return Cow::Borrowed(segment);
    }
    let mut out = String::with_capacity(segment.len());
    let mut rest = segment;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail
            .strip_prefix("%2F")
            .or_else(|| tail.strip_prefix("%2f"))
        {
            out.push('/');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%25") {
            out.push('%');
            rest = after;
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

impl Keys {
    /// Keys under `prefix` (e.g. `/drover`; a trailing `/` is ignored).
    pub fn new(prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        while prefix.ends_with('/') {
            prefix.pop();
        }
        Self { prefix }
    }

    /// The prefix, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/<collection>/` followed by each segment and a `/`.
    pub fn collection_prefix(&self, collection: &str, segments: &[&str]) -> String {
        let mut key = format!("{}/{collection}/", self.prefix);
        for s in segments {
            key.push_str(&encode_segment(s));
            key.push('/');
        }
        key
    }

    fn key(&self, collection: &str, segments: &[&str]) -> String {
        let mut key = self.collection_prefix(collection, segments);
        key.pop();
        key
    }

    /// Where an object of kind `T` lives; `namespace` is ignored for
    /// cluster-scoped kinds.
    pub fn object<T: ApiObject>(&self, namespace: &str, name: &str) -> String {
        if T::NAMESPACED {
            self.key(T::PLURAL, &[namespace, name])
        } else {
            self.key(T::PLURAL, &[name])
        }
    }

    /// The key of `obj` itself, from its metadata.
    pub fn of<T: ApiObject>(&self, obj: &T) -> String {
        self.object::<T>(&obj.meta().namespace, &obj.meta().name)
    }

    /// All objects of kind `T`, or those of one namespace.
    pub fn kind_prefix<T: ApiObject>(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if T::NAMESPACED => self.collection_prefix(T::PLURAL, &[ns]),
            _ => self.collection_prefix(T::PLURAL, &[]),
        }
    }

    pub fn job(&self, ns: &str, name: &str) -> String {
        self.key(c::JOBS, &[ns, name])
    }
    pub fn job_status(&self, ns: &str, name: &str) -> String {
        self.key(c::JOBS_STATUS, &[ns, name])
    }
    pub fn job_version(&self, ns: &str, name: &str, version: u64) -> String {
        format!("{}{version:020}", self.job_versions_prefix(ns, name))
    }
    /// The placement controller's explanation of a job's unplaced allocations.
    pub fn job_placement(&self, ns: &str, name: &str) -> String {
        self.key(c::JOBS_PLACEMENT, &[ns, name])
    }
    /// All stored versions of one job, oldest first in key order.
    pub fn job_versions_prefix(&self, ns: &str, name: &str) -> String {
        self.collection_prefix(c::JOBS_VERSIONS, &[ns, name])
    }

    pub fn alloc(&self, ns: &str, id: &str) -> String {
        self.key(c::ALLOCATIONS, &[ns, id])
    }
    pub fn alloc_binding(&self, ns: &str, id: &str) -> String {
        self.key(c::ALLOCATIONS_BINDING, &[ns, id])
    }
    /// An allocation's status, under the node it is bound to (`None`:
    /// never bound, see [`UNBOUND_NODE`]).
    pub fn alloc_status(&self, node_id: Option<&str>, ns: &str, id: &str) -> String {
        let node = node_id.unwrap_or(UNBOUND_NODE);
        self.key(c::ALLOCATIONS_STATUS, &[node, ns, id])
    }
    /// The statuses of one node's allocations.
    pub fn node_alloc_status_prefix(&self, node_id: &str) -> String {
        self.collection_prefix(c::ALLOCATIONS_STATUS, &[node_id])
    }
    /// A node's copy of one group of a job version its allocations run: the
    /// job with that group alone, so a node reads nothing of the groups it
    /// does not run. `group: None` is the whole-job copy servers wrote
    /// before (kept while agents that read it may still run the version).
    pub fn node_job(
        &self,
        node_id: &str,
        ns: &str,
        job: &str,
        version: u64,
        group: Option<&str>,
    ) -> String {
        let whole = format!(
            "{}{version:020}",
            self.collection_prefix(c::NODE_JOBS, &[node_id, ns, job])
        );
        match group {
            Some(group) => format!("{whole}/{}", encode_segment(group)),
            None => whole,
        }
    }
    /// Every job copy one node holds.
    pub fn node_jobs_prefix(&self, node_id: &str) -> String {
        self.collection_prefix(c::NODE_JOBS, &[node_id])
    }
    /// The key a node checks the servers' tokens with.
    pub fn node_api_key(&self, node_id: &str) -> String {
        self.key(c::NODES_API_KEY, &[node_id])
    }
    pub fn join_token(&self, secret_hash: &str) -> String {
        self.key(c::JOIN_TOKENS, &[secret_hash])
    }

    /// Everything a node's etcd role needs: read its assignments, job copies,
    /// API key and the scrape token's digest; write its record, heartbeat and
    /// allocations' statuses.
    pub fn node_grants(&self, node_id: &str) -> Vec<NodeGrant> {
        let grant = |key: String, prefix: bool, write: bool| NodeGrant { key, prefix, write };
        vec![
            grant(self.node(node_id), false, true),
            grant(self.node_heartbeat(node_id), false, true),
            grant(self.node_api_key(node_id), false, false),
            grant(self.node_allocs_prefix(node_id), true, false),
            grant(self.node_jobs_prefix(node_id), true, false),
            grant(self.node_alloc_status_prefix(node_id), true, true),
            grant(self.scrape_token_digest(), false, false),
        ]
    }
    /// One entry of a node's assignment index.
    pub fn node_alloc(&self, node_id: &str, ns: &str, alloc_id: &str) -> String {
        self.key(c::NODE_ALLOCS, &[node_id, ns, alloc_id])
    }
    /// The prefix of one collection, e.g. `collection(collections::JOBS)`.
    pub fn collection(&self, collection: &str) -> String {
        self.collection_prefix(collection, &[])
    }
    /// Everything assigned to one node: what its agent watches.
    pub fn node_allocs_prefix(&self, node_id: &str) -> String {
        self.collection_prefix(c::NODE_ALLOCS, &[node_id])
    }

    pub fn node(&self, id: &str) -> String {
        self.key(c::NODES, &[id])
    }
    pub fn node_status(&self, id: &str) -> String {
        self.key(c::NODES_STATUS, &[id])
    }
    pub fn node_heartbeat(&self, id: &str) -> String {
        self.key(c::NODES_HEARTBEAT, &[id])
    }
    pub fn node_admin(&self, id: &str) -> String {
        self.key(c::NODES_ADMIN, &[id])
    }

    pub fn service(&self, ns: &str, name: &str) -> String {
        self.key(c::SERVICES, &[ns, name])
    }
    pub fn deployment(&self, ns: &str, name: &str) -> String {
        self.key(c::DEPLOYMENTS, &[ns, name])
    }
    /// Operators' intent for a deployment (promote, pause, fail, health).
    pub fn deployment_admin(&self, ns: &str, id: &str) -> String {
        self.key(c::DEPLOYMENTS_ADMIN, &[ns, id])
    }
    /// Marks `version` of a job stable (its deployment succeeded).
    pub fn job_stable(&self, ns: &str, name: &str, version: u64) -> String {
        format!("{}{version:020}", self.job_stable_prefix(ns, name))
    }
    /// Every stable version of one job, oldest first in key order.
    pub fn job_stable_prefix(&self, ns: &str, name: &str) -> String {
        self.collection_prefix(c::JOBS_STABLE, &[ns, name])
    }
    /// The file a job version was submitted as (written with the version,
    /// deleted with it).
    pub fn job_source(&self, ns: &str, name: &str, version: u64) -> String {
        format!("{}{version:020}", self.job_sources_prefix(ns, name))
    }
    pub fn job_sources_prefix(&self, ns: &str, name: &str) -> String {
        self.collection_prefix(c::JOBS_SOURCES, &[ns, name])
    }
    /// A periodic job's launch record (last launch, next launch, result).
    pub fn job_periodic(&self, ns: &str, name: &str) -> String {
        self.key(c::JOBS_PERIODIC, &[ns, name])
    }
    pub fn leader(&self, election: &str) -> String {
        self.key(c::LEADERS, &[election])
    }
    pub fn server(&self, name: &str) -> String {
        self.key(c::SERVERS, &[name])
    }

    pub fn namespace(&self, name: &str) -> String {
        self.key(c::NAMESPACES, &[name])
    }
    pub fn acl_policy(&self, name: &str) -> String {
        self.key(c::ACL_POLICIES, &[name])
    }
    pub fn acl_token(&self, secret_hash: &str) -> String {
        self.key(c::ACL_TOKENS, &[secret_hash])
    }
    pub fn acl_bootstrap(&self) -> String {
        self.key(c::ACL_BOOTSTRAP, &["done"])
    }
    pub fn agent_api_key(&self) -> String {
        self.key(c::SECRETS, &["agent-api-key"])
    }
    /// The token metrics scrapers present to the agents (servers only).
    pub fn scrape_token(&self) -> String {
        self.key(c::SECRETS, &["scrape-token"])
    }
    pub fn scrape_token_digest(&self) -> String {
        self.key(c::SCRAPE_TOKEN_DIGEST, &[])
    }

    /// Every key an allocation's status may sit at: under `node_id` when
    /// bound (`None`: never bound) and under [`UNBOUND_NODE`], so a delete
    /// of both leaves none behind whichever wrote it.
    pub fn alloc_status_keys(&self, node_id: Option<&str>, ns: &str, id: &str) -> Vec<String> {
        let mut out = vec![self.alloc_status(None, ns, id)];
        if let Some(node) = node_id {
            out.push(self.alloc_status(Some(node), ns, id));
        }
        out
    }

    /// The parts of a status key; `None` for any other key.
    pub fn parse_alloc_status<'a>(&self, key: &'a str) -> Option<StatusKey<'a>> {
        let parsed = self.parse(key)?;
        if parsed.collection != c::ALLOCATIONS_STATUS {
            return None;
        }
        let [node, namespace, id]: [Cow<'a, str>; 3] = parsed.segments.try_into().ok()?;
        Some(StatusKey {
            node: (node != UNBOUND_NODE).then_some(node),
            namespace,
            id,
        })
    }

    /// The parts of a node's job copy key; `None` for any other key.
    pub fn parse_node_job<'a>(&self, key: &'a str) -> Option<NodeJobKey<'a>> {
        let parsed = self.parse(key)?;
        if parsed.collection != c::NODE_JOBS {
            return None;
        }
        let mut segments = parsed.segments.into_iter();
        let (node, namespace, job, version) = (
            segments.next()?,
            segments.next()?,
            segments.next()?,
            segments.next()?,
        );
        let group = segments.next();
        if segments.next().is_some() {
            return None;
        }
        Some(NodeJobKey {
            node,
            namespace,
            job,
            version: version.parse().ok()?,
            group,
        })
    }

    /// Splits a key under this prefix; `None` for keys outside it.
    pub fn parse<'a>(&self, key: &'a str) -> Option<ParsedKey<'a>> {
        let rest = key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let collection = parts.next().filter(|s| !s.is_empty())?;
        let segments: Vec<&str> = parts.collect();
        if segments.is_empty() || segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(ParsedKey {
            collection,
            segments: segments.into_iter().map(decode_segment).collect(),
        })
    }
}

impl Default for Keys {
    fn default() -> Self {
        Self::new(crate::config::DEFAULT_PREFIX)
    }
}

/// Checks that a namespace, name or id can be a key segment: an empty
/// segment would make an object key equal to a prefix. (A `/` is encoded,
/// see the module doc; which names may hold one is the API's business.)
pub fn validate_segment(segment: &str) -> Result<()> {
    let reason = if segment.is_empty() {
        "must not be empty"
    } else if segment.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidKey {
        segment: segment.to_string(),
        reason,
    })
}

/// Validates the segments `Keys::object::<T>` will use.
pub fn validate_object_segments<T: ApiObject>(namespace: &str, name: &str) -> Result<()> {
    if T::NAMESPACED {
        validate_segment(namespace)?;
    }
    validate_segment(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::ObjectMeta;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Serialize, Deserialize)]
    struct Job {
        metadata: ObjectMeta,
    }
    drover_api_types::impl_api_object!(Job, "Job", "jobs", namespaced = true);

    #[derive(Clone, Serialize, Deserialize)]
    struct Node {
        metadata: ObjectMeta,
    }
    drover_api_types::impl_api_object!(Node, "Node", "nodes", namespaced = false);

    #[test]
    fn layout_matches_the_table() {
        let k = Keys::new("/drover");
        assert_eq!(k.job("default", "web"), "/drover/jobs/default/web");
        assert_eq!(
            k.job_status("default", "web"),
            "/drover/jobs-status/default/web"
        );
        assert_eq!(
            k.job_version("default", "web", 7),
            "/drover/jobs-versions/default/web/00000000000000000007"
        );
        assert_eq!(k.alloc("prod", "a1"), "/drover/allocations/prod/a1");
        assert_eq!(
            k.alloc_binding("prod", "a1"),
            "/drover/allocations-binding/prod/a1"
        );
        assert_eq!(
            k.alloc_status(Some("n1"), "prod", "a1"),
            "/drover/allocations-status/n1/prod/a1"
        );
        assert_eq!(
            k.alloc_status(None, "prod", "a1"),
            "/drover/allocations-status/_unbound/prod/a1"
        );
        let status = k.alloc_status(Some("n1"), "prod", "a1");
        assert_eq!(
            k.parse_alloc_status(&status),
            Some(StatusKey {
                node: Some("n1".into()),
                namespace: "prod".into(),
                id: "a1".into()
            })
        );
        let unbound = k.alloc_status(None, "prod", "a1");
        assert_eq!(k.parse_alloc_status(&unbound).map(|s| s.node), Some(None));
        assert_eq!(k.parse_alloc_status(&k.alloc_binding("prod", "a1")), None);
        assert_eq!(
            k.alloc_status_keys(Some("n1"), "prod", "a1"),
            [unbound, status]
        );
        let whole = k.node_job("n1", "prod", "web", 3, None);
        assert_eq!(whole, "/drover/node-jobs/n1/prod/web/00000000000000000003");
        let group = k.node_job("n1", "prod", "web", 3, Some("api/v2"));
        assert_eq!(group, format!("{whole}/api%2Fv2"));
        let parsed = k.parse_node_job(&group).expect("a copy key");
        assert_eq!(
            (parsed.node.as_ref(), parsed.job.as_ref(), parsed.version),
            ("n1", "web", 3)
        );
        assert_eq!(parsed.group.as_deref(), Some("api/v2"));
        assert_eq!(k.parse_node_job(&whole).and_then(|p| p.group), None);
        assert!(k.parse_node_job(&whole).is_some());
        assert_eq!(k.parse_node_job(&format!("{group}/x")), None);
        assert_eq!(k.parse_node_job(&k.node("n1")), None);
        assert_eq!(
            k.node_alloc("n1", "prod", "a1"),
            "/drover/node-allocs/n1/prod/a1"
        );
        assert_eq!(k.node_allocs_prefix("n1"), "/drover/node-allocs/n1/");
        assert_eq!(k.node("n1"), "/drover/nodes/n1");
        assert_eq!(k.node_status("n1"), "/drover/nodes-status/n1");
        assert_eq!(k.node_heartbeat("n1"), "/drover/nodes-heartbeat/n1");
        assert_eq!(k.node_admin("n1"), "/drover/nodes-admin/n1");
        assert_eq!(k.service("default", "api"), "/drover/services/default/api");
        assert_eq!(
            k.deployment("default", "d1"),
            "/drover/deployments/default/d1"
        );
        assert_eq!(k.leader("placement"), "/drover/leaders/placement");
    }

    #[test]
    fn generic_objects_agree_with_named_builders() {
        let k = Keys::new("/p/");
        assert_eq!(k.prefix(), "/p");
        assert_eq!(k.object::<Job>("default", "web"), k.job("default", "web"));
        assert_eq!(k.object::<Node>("ignored", "n1"), k.node("n1"));
        assert_eq!(k.kind_prefix::<Job>(None), "/p/jobs/");
        assert_eq!(k.kind_prefix::<Job>(Some("default")), "/p/jobs/default/");
        assert_eq!(k.kind_prefix::<Node>(Some("default")), "/p/nodes/");
    }

    #[test]
    fn prefixes_do_not_capture_neighbours() {
        let k = Keys::default();
        let jobs = k.kind_prefix::<Job>(None);
        assert!(!k.job_status("default", "web").starts_with(&jobs));
        assert!(!k
            .job("ab", "x")
            .starts_with(&k.kind_prefix::<Job>(Some("a"))));
        assert!(!k
            .node_status("n1")
            .starts_with(&k.kind_prefix::<Node>(None)));
        assert!(!k
            .node_alloc("n10", "d", "a")
            .starts_with(&k.node_allocs_prefix("n1")));
        // Zero-padding keeps numeric order in key order.
        assert!(k.job_version("d", "w", 9) < k.job_version("d", "w", 10));
    }

    #[test]
    fn parse_inverts_builders() {
        let k = Keys::default();
        let key = k.node_alloc("n1", "prod", "a1");
        let parsed = k.parse(&key).expect("parses");
        assert_eq!(parsed.collection, "node-allocs");
        assert_eq!(parsed.segments, vec!["n1", "prod", "a1"]);
        assert_eq!(k.parse("/other/jobs/a/b"), None);
        assert_eq!(k.parse("/drover/jobs/"), None);
        assert_eq!(k.parse("/droverx/jobs/a"), None);
    }

    #[test]
    fn segments_are_validated() {
        assert!(validate_segment("web-1.prod").is_ok());
        assert!(validate_segment("web/periodic-1").is_ok());
        for bad in ["", "a\nb"] {
            assert!(matches!(
                validate_segment(bad),
                Err(StoreError::InvalidKey { .. })
            ));
        }
        assert!(validate_object_segments::<Node>("", "n1").is_ok());
        assert!(validate_object_segments::<Job>("", "web").is_err());
    }

    /// A child job's `/` stays inside its segment: the key has one segment
    /// per part, parse gives the name back, and the parent's prefixes do
    /// not reach the child's keys.
    #[test]
    fn a_slash_in_a_name_is_encoded_and_parsed_back() {
        let k = Keys::new("/drover");
        let child = "web/periodic-1700000000";
        assert_eq!(
            k.job("default", child),
            "/drover/jobs/default/web%2Fperiodic-1700000000"
        );
        let version_key = k.job_version("default", child, 3);
        let parsed = k.parse(&version_key).expect("parses");
        assert_eq!(parsed.segments[1], child);
        assert!(!k
            .job_version("default", child, 0)
            .starts_with(&k.job_versions_prefix("default", "web")));
        for name in ["a%2Fb", "100%", "%", "a/b/%25", "plain"] {
            let key = k.job("default", name);
            assert_eq!(key.matches('/').count(), 4, "{key}");
            assert_eq!(k.parse(&key).expect("parses").segments[1], name);
        }
        assert_eq!(decode_segment("50%off"), "50%off");
    }
}
