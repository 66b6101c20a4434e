//! Access control: policies in Nomad's language, tokens that carry them,
//! and [`Acl`], what a caller may do once their policies are merged.
//!
//! # Layout
//! - [`rules`]: what a policy grants, as data (capabilities, levels).
//! - [`parse`]: the policy language (HCL) read into [`Rules`].
//! - this module: the stored objects ([`AclPolicy`], [`AclToken`]) and
//!   [`Acl`], the pure decision every request is checked with.

pub mod parse;
pub mod rules;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use parse::parse_policy;
pub use rules::{Capability, KeyPolicy, Level, NamespacePolicy, Rules};

/// The policy whose rules apply to requests that carry no token.
pub const ANONYMOUS_POLICY: &str = "anonymous";

/// A named set of rules, as stored (`acl-policies/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AclPolicy {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The policy as written (HCL).
    pub rules: String,
    /// What it grants, parsed once when it was written.
    pub parsed: Rules,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_time: Option<DateTime<Utc>>,
}

/// `client` tokens carry policies; `management` tokens may do anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    #[default]
    Client,
    Management,
}

impl TokenType {
    /// As the API and `--type` spell it.
    pub fn name(self) -> &'static str {
        match self {
            TokenType::Client => "client",
            TokenType::Management => "management",
        }
    }
}

/// A token as stored (`acl-tokens/<sha256 of the secret>`): never the
/// secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AclToken {
    /// Public id: logs, the audit log and `drover acl token info` name a
    /// token by it.
    pub accessor_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    #[serde(default)]
    pub policies: Vec<String>,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub create_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<DateTime<Utc>>,
}

impl AclToken {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expiration_time.is_some_and(|at| at <= now)
    }
}

/// A bit set of [`Capability`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Caps(u32);

impl Caps {
    fn of(rule: &rules::NamespaceRule) -> Caps {
        let mut bits = 0;
        if let Some(policy) = rule.policy {
            for c in policy.capabilities() {
                bits |= c.bit();
            }
        }
        for c in &rule.capabilities {
            bits |= c.bit();
        }
        Caps(bits)
    }

    fn has(self, c: Capability) -> bool {
        self.0 & Capability::Deny.bit() == 0 && self.0 & c.bit() != 0
    }
}

/// Everything a caller may do: a token's policies merged, compiled once
/// and then asked per request (a few comparisons each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acl {
    management: bool,
    /// Namespace rules by exact name.
    exact: HashMap<String, Caps>,
    /// Rules whose name holds `*`, most specific (longest literal part)
    /// first.
    globs: Vec<(String, Caps)>,
    node: Option<Level>,
    agent: Option<Level>,
    operator: Option<Level>,
    /// Longest prefix first.
    keys: Vec<(String, KeyPolicy)>,
}

/// Two grants of one thing in different policies: a deny wins, else the
/// larger.
fn merge_level(a: Option<Level>, b: Option<Level>) -> Option<Level> {
    match (a, b) {
        (Some(Level::Deny), _) | (_, Some(Level::Deny)) => Some(Level::Deny),
        (a, b) => a.max(b),
    }
}

impl Acl {
    /// Anything goes: management tokens, and every caller when ACLs are off.
    pub fn management() -> Acl {
        Acl {
            management: true,
            ..Acl::default()
        }
    }

    /// Nothing at all.
    pub fn none() -> Acl {
        Acl::default()
    }

    /// The rules of several policies merged: capabilities of one
    /// namespace add up, and a deny anywhere wins.
    pub fn from_rules<'a>(all: impl IntoIterator<Item = &'a Rules>) -> Acl {
        let mut acl = Acl::default();
        let mut globs: HashMap<String, Caps> = HashMap::new();
        let mut keys: HashMap<String, KeyPolicy> = HashMap::new();
        for rules in all {
            for rule in &rules.namespaces {
                let caps = Caps::of(rule);
                let slot = if rule.name.contains('*') {
                    globs.entry(rule.name.clone()).or_default()
                } else {
                    acl.exact.entry(rule.name.clone()).or_default()
                };
                slot.0 |= caps.0;
            }
            acl.node = merge_level(acl.node, rules.node);
            acl.agent = merge_level(acl.agent, rules.agent);
            acl.operator = merge_level(acl.operator, rules.operator);
            for rule in &rules.key_prefixes {
                keys.entry(rule.prefix.clone())
                    .and_modify(|p| {
                        *p = if *p == KeyPolicy::Deny || rule.policy == KeyPolicy::Deny {
                            KeyPolicy::Deny
                        } else {
                            (*p).max(rule.policy)
                        }
                    })
                    .or_insert(rule.policy);
            }
        }
        acl.globs = globs.into_iter().collect();
        acl.globs.sort_by(|(a, _), (b, _)| {
            let literal = |s: &str| s.chars().filter(|c| *c != '*').count();
            literal(b).cmp(&literal(a)).then_with(|| a.cmp(b))
        });
        acl.keys = keys.into_iter().collect();
        acl.keys
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        acl
    }

    pub fn is_management(&self) -> bool {
        self.management
    }

    /// The rule that governs `namespace`: its exact rule, else the most
    /// specific glob that matches it.
    fn namespace_caps(&self, namespace: &str) -> Caps {
        if let Some(caps) = self.exact.get(namespace) {
            return *caps;
        }
        self.globs
            .iter()
            .find(|(pattern, _)| glob_match(pattern, namespace))
            .map_or(Caps::default(), |(_, caps)| *caps)
    }

    /// May the caller do `capability` in `namespace`?
    pub fn allows(&self, namespace: &str, capability: Capability) -> bool {
        self.management || self.namespace_caps(namespace).has(capability)
    }

    /// Is there a namespace where the caller may do `capability`? (For
    /// requests over every namespace, whose answers are then filtered.)
    pub fn allows_somewhere(&self, capability: Capability) -> bool {
        self.management
            || self.exact.values().any(|c| c.has(capability))
            || self.globs.iter().any(|(_, c)| c.has(capability))
    }

    fn level(&self, granted: Option<Level>, wanted: Level) -> bool {
        self.management || granted.is_some_and(|g| g != Level::Deny && g >= wanted)
    }

    pub fn node(&self, wanted: Level) -> bool {
        self.level(self.node, wanted)
    }

    pub fn agent(&self, wanted: Level) -> bool {
        self.level(self.agent, wanted)
    }

    pub fn operator(&self, wanted: Level) -> bool {
        self.level(self.operator, wanted)
    }

    /// The policy of the longest `key_prefix` that `key` starts with.
    pub fn key(&self, key: &str) -> KeyPolicy {
        if self.management {
            return KeyPolicy::Write;
        }
        self.keys
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix.as_str()))
            .map_or(KeyPolicy::Deny, |(_, p)| *p)
    }

    /// May the caller read (`wanted` Read), list or write every key under
    /// `prefix`? A deny or a weaker rule anywhere below it says no.
    pub fn key_prefix(&self, prefix: &str, wanted: KeyPolicy) -> bool {
        if self.management {
            return true;
        }
        let at = self.key(prefix);
        let allowed = |p: KeyPolicy| p != KeyPolicy::Deny && p >= wanted;
        allowed(at)
            && self
                .keys
                .iter()
                .filter(|(p, _)| p.starts_with(prefix) && p.len() > prefix.len())
                .all(|(_, p)| allowed(*p))
    }
}

/// `*` matches any run of characters (including none); anything else
/// matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(sources: &[&str]) -> Acl {
        let rules: Vec<Rules> = sources
            .iter()
            .map(|s| parse_policy("t.hcl", s).expect("parses").0)
            .collect();
        Acl::from_rules(&rules)
    }

    #[test]
    fn globs_match_any_run() {
        assert!(glob_match("*", ""));
        assert!(glob_match("web-*", "web-prod"));
        assert!(glob_match("*-prod", "web-prod"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(!glob_match("web-*", "db"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("web", "web"));
        assert!(!glob_match("web", "webs"));
    }

    #[test]
    fn a_team_policy_grants_its_namespace_and_nothing_else() {
        let team = acl(&["namespace \"web\" { policy = \"write\" }"]);
        assert!(team.allows("web", Capability::SubmitJob));
        assert!(team.allows("web", Capability::ReadLogs));
        assert!(!team.allows("db", Capability::ReadJob));
        assert!(!team.allows("default", Capability::ListJobs));
        assert!(team.allows_somewhere(Capability::ListJobs));
        assert!(!team.node(Level::Read));
        assert_eq!(team.key("web/x"), KeyPolicy::Deny);
    }

    #[test]
    fn write_holds_read_and_scale() {
        let write = NamespacePolicy::Write.capabilities();
        for lesser in [NamespacePolicy::Read, NamespacePolicy::Scale] {
            for c in lesser.capabilities() {
                assert!(write.contains(&c), "{c:?} of {lesser:?}");
            }
        }
        assert_eq!(write.len(), 20, "{write:?}");
    }

    #[test]
    fn read_is_not_write_and_capabilities_are_exact() {
        let reader = acl(&["namespace \"*\" { policy = \"read\" }"]);
        assert!(reader.allows("anything", Capability::ReadJob));
        assert!(!reader.allows("anything", Capability::SubmitJob));
        assert!(!reader.allows("anything", Capability::ReadLogs));
        let logs = acl(&["namespace \"ops\" { capabilities = [\"read-logs\"] }"]);
        assert!(logs.allows("ops", Capability::ReadLogs));
        assert!(!logs.allows("ops", Capability::ReadJob));
    }

    #[test]
    fn the_exact_rule_wins_then_the_most_specific_glob() {
        let a = acl(&[r#"
namespace "*" { policy = "read" }
namespace "web-*" { policy = "write" }
namespace "web-secret" { policy = "deny" }
"#]);
        assert!(a.allows("web-prod", Capability::SubmitJob));
        assert!(!a.allows("db", Capability::SubmitJob));
        assert!(a.allows("db", Capability::ReadJob));
        assert!(!a.allows("web-secret", Capability::ReadJob));
    }

    #[test]
    fn policies_add_up_and_a_deny_in_any_wins() {
        let both = acl(&[
            "namespace \"web\" { capabilities = [\"read-job\"] }\nnode { policy = \"read\" }",
            "namespace \"web\" { capabilities = [\"submit-job\"] }\nnode { policy = \"write\" }",
        ]);
        assert!(both.allows("web", Capability::ReadJob));
        assert!(both.allows("web", Capability::SubmitJob));
        assert!(both.node(Level::Write));
        let denied = acl(&[
            "namespace \"web\" { policy = \"write\" }\nagent { policy = \"write\" }",
            "namespace \"web\" { policy = \"deny\" }\nagent { policy = \"deny\" }",
        ]);
        assert!(!denied.allows("web", Capability::ReadJob));
        assert!(!denied.agent(Level::Read));
    }

    #[test]
    fn keys_follow_the_longest_prefix() {
        let a = acl(&[r#"
key_prefix "" { policy = "read" }
key_prefix "app/" { policy = "write" }
key_prefix "app/secret/" { policy = "deny" }
"#]);
        assert_eq!(a.key("other"), KeyPolicy::Read);
        assert_eq!(a.key("app/x"), KeyPolicy::Write);
        assert_eq!(a.key("app/secret/pw"), KeyPolicy::Deny);
        assert!(a.key_prefix("app/a/", KeyPolicy::Write));
        assert!(
            !a.key_prefix("app/", KeyPolicy::Read),
            "a denied key lies below"
        );
        assert!(!a.key_prefix("", KeyPolicy::Write));
    }

    #[test]
    fn management_may_do_anything_and_none_nothing() {
        let m = Acl::management();
        assert!(m.allows("x", Capability::SubmitJob) && m.node(Level::Write));
        assert!(m.key_prefix("", KeyPolicy::Write));
        let n = Acl::none();
        assert!(!n.allows("default", Capability::ListJobs));
        assert!(!n.allows_somewhere(Capability::ListJobs));
        assert!(!n.operator(Level::Read));
    }

    #[test]
    fn expiry_is_a_point_in_time() {
        let now = Utc::now();
        let mut t = AclToken {
            accessor_id: "a".into(),
            name: "n".into(),
            token_type: TokenType::Client,
            policies: vec![],
            secret_hash: "h".into(),
            create_time: now,
            expiration_time: None,
        };
        assert!(!t.expired(now));
        t.expiration_time = Some(now);
        assert!(t.expired(now));
    }
}
