//! What an ACL policy grants, as data: Nomad's policy language
//! (`namespace "web" { policy = "write" }`, `node { policy = "read" }`, …)
//! plus Consul's `key_prefix` for the KV store. [`super::parse`] reads the
//! HCL; [`super::Acl`] merges the rules of a token's policies and answers.

use serde::{Deserialize, Serialize};

/// A namespace-scoped right, by Nomad's names. Each guards one kind of
/// request (docs/acl.md has the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Overrides every other capability in the namespace.
    Deny,
    ListJobs,
    ParseJob,
    ReadJob,
    SubmitJob,
    DispatchJob,
    ReadLogs,
    ReadFs,
    AllocExec,
    AllocLifecycle,
    AllocNodeExec,
    ScaleJob,
    ReadJobScaling,
    ListScalingPolicies,
    ReadScalingPolicy,
    CsiListVolume,
    CsiReadVolume,
    CsiWriteVolume,
    CsiMountVolume,
    CsiRegisterPlugin,
    SubmitRecommendation,
    SentinelOverride,
    HostVolumeRead,
    HostVolumeWrite,
}

impl Capability {
    pub const ALL: [Capability; 24] = [
        Capability::Deny,
        Capability::ListJobs,
        Capability::ParseJob,
        Capability::ReadJob,
        Capability::SubmitJob,
        Capability::DispatchJob,
        Capability::ReadLogs,
        Capability::ReadFs,
        Capability::AllocExec,
        Capability::AllocLifecycle,
        Capability::AllocNodeExec,
        Capability::ScaleJob,
        Capability::ReadJobScaling,
        Capability::ListScalingPolicies,
        Capability::ReadScalingPolicy,
        Capability::CsiListVolume,
        Capability::CsiReadVolume,
        Capability::CsiWriteVolume,
        Capability::CsiMountVolume,
        Capability::CsiRegisterPlugin,
        Capability::SubmitRecommendation,
        Capability::SentinelOverride,
        Capability::HostVolumeRead,
        Capability::HostVolumeWrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Deny => "deny",
            Capability::ListJobs => "list-jobs",
            Capability::ParseJob => "parse-job",
            Capability::ReadJob => "read-job",
            Capability::SubmitJob => "submit-job",
            Capability::DispatchJob => "dispatch-job",
            Capability::ReadLogs => "read-logs",
            Capability::ReadFs => "read-fs",
            Capability::AllocExec => "alloc-exec",
            Capability::AllocLifecycle => "alloc-lifecycle",
            Capability::AllocNodeExec => "alloc-node-exec",
            Capability::ScaleJob => "scale-job",
            Capability::ReadJobScaling => "read-job-scaling",
            Capability::ListScalingPolicies => "list-scaling-policies",
            Capability::ReadScalingPolicy => "read-scaling-policy",
            Capability::CsiListVolume => "csi-list-volume",
            Capability::CsiReadVolume => "csi-read-volume",
            Capability::CsiWriteVolume => "csi-write-volume",
            Capability::CsiMountVolume => "csi-mount-volume",
            Capability::CsiRegisterPlugin => "csi-register-plugin",
            Capability::SubmitRecommendation => "submit-recommendation",
            Capability::SentinelOverride => "sentinel-override",
            Capability::HostVolumeRead => "host-volume-read",
            Capability::HostVolumeWrite => "host-volume-write",
        }
    }

    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether any drover request is guarded by it; the others are
    /// accepted (policies written for Nomad carry them) and grant nothing.
    pub fn is_enforced(self) -> bool {
        matches!(
            self,
            Capability::Deny
                | Capability::ListJobs
                | Capability::ParseJob
                | Capability::ReadJob
                | Capability::SubmitJob
                | Capability::DispatchJob
                | Capability::ReadLogs
                | Capability::AllocExec
                | Capability::AllocLifecycle
                | Capability::ScaleJob
        )
    }

    pub(crate) fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The coarse `policy = "..."` of a namespace block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NamespacePolicy {
    Deny,
    Read,
    Write,
    Scale,
}

impl NamespacePolicy {
    pub fn parse(word: &str) -> Option<NamespacePolicy> {
        match word {
            "deny" => Some(NamespacePolicy::Deny),
            "read" => Some(NamespacePolicy::Read),
            "write" => Some(NamespacePolicy::Write),
            "scale" => Some(NamespacePolicy::Scale),
            _ => None,
        }
    }

    /// The capabilities it stands for, as Nomad expands it: `write` is
    /// `read` and `scale` and more.
    pub fn capabilities(self) -> Vec<Capability> {
        use Capability as C;
        const READ: &[Capability] = &[
            C::ListJobs,
            C::ParseJob,
            C::ReadJob,
            C::CsiListVolume,
            C::CsiReadVolume,
            C::ReadJobScaling,
            C::ListScalingPolicies,
            C::ReadScalingPolicy,
            C::HostVolumeRead,
        ];
        const SCALE: &[Capability] = &[
            C::ListScalingPolicies,
            C::ReadScalingPolicy,
            C::ReadJobScaling,
            C::ScaleJob,
        ];
        const WRITE_ONLY: &[Capability] = &[
            C::SubmitJob,
            C::DispatchJob,
            C::ReadLogs,
            C::ReadFs,
            C::AllocExec,
            C::AllocLifecycle,
            C::CsiWriteVolume,
            C::CsiMountVolume,
            C::SubmitRecommendation,
            C::HostVolumeWrite,
        ];
        match self {
            NamespacePolicy::Deny => vec![C::Deny],
            NamespacePolicy::Read => READ.to_vec(),
            NamespacePolicy::Scale => SCALE.to_vec(),
            NamespacePolicy::Write => {
                let mut all = READ.to_vec();
                all.extend(SCALE.iter().filter(|c| !READ.contains(c)));
                all.extend_from_slice(WRITE_ONLY);
                all
            }
        }
    }
}

/// `policy = "deny|read|write"` of `node`, `agent` and `operator`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing granted (and, merged with other policies, nothing at all).
    Deny,
    Read,
    Write,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Deny => "deny",
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    pub fn parse(word: &str) -> Option<Level> {
        match word {
            "deny" => Some(Level::Deny),
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            _ => None,
        }
    }
}

/// `policy` of a `key_prefix` block, as Consul writes it: `list` reads
/// the keys under the prefix but not their values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyPolicy {
    Deny,
    List,
    Read,
    Write,
}

impl KeyPolicy {
    pub fn parse(word: &str) -> Option<KeyPolicy> {
        match word {
            "deny" => Some(KeyPolicy::Deny),
            "list" => Some(KeyPolicy::List),
            "read" => Some(KeyPolicy::Read),
            "write" => Some(KeyPolicy::Write),
            _ => None,
        }
    }
}

/// `namespace "NAME" { policy capabilities }`; NAME may hold `*` globs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamespaceRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<NamespacePolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
}

/// `key_prefix "PREFIX" { policy }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyPrefixRule {
    pub prefix: String,
    pub policy: KeyPolicy,
}

/// Everything one policy grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Level>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_prefixes: Vec<KeyPrefixRule>,
}
