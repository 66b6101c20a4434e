//! Reads an ACL policy file in Nomad's syntax (HCL) into [`Rules`], with
//! every error at `file:line:col`. Values are literals: a policy is data,
//! not a program, so no variables or functions are evaluated.

use std::ops::Range;

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::Span;

use super::rules::{
    Capability, KeyPolicy, KeyPrefixRule, Level, NamespacePolicy, NamespaceRule, Rules,
};
use crate::diagnostic::{suggestion_suffix, Diagnostic, Location};

/// The largest policy accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The most `namespace` plus `key_prefix` blocks in one policy.
pub const MAX_RULES: usize = 1000;

const TOP_BLOCKS: &[&str] = &[
    "namespace",
    "node",
    "agent",
    "operator",
    "key_prefix",
    "quota",
    "plugin",
    "host_volume",
    "node_pool",
];

struct Reader<'a> {
    file: &'a str,
    source: &'a str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn at(&self, span: Option<Range<usize>>) -> Option<Location> {
        span.map(|s| Location::from_offset(self.file, self.source, s.start))
    }

    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let d = Diagnostic::error(message);
        self.errors.push(match self.at(span) {
            Some(l) => d.at(l),
            None => d,
        });
    }

    fn warn(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let d = Diagnostic::warning(message);
        self.warnings.push(match self.at(span) {
            Some(l) => d.at(l),
            None => d,
        });
    }

    /// The one `policy = "..."` of a block, and its span.
    fn policy_word(&mut self, block: &Block, allowed: &[&str]) -> Option<(String, Range<usize>)> {
        let mut word = None;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(a) if a.key.as_str() == "policy" => {
                    word = self.string(a).map(|w| (w, a.value.span().unwrap_or(0..0)));
                }
                Structure::Attribute(a) if allowed.contains(&a.key.as_str()) => {}
                Structure::Attribute(a) => {
                    let name = a.key.as_str();
                    let known = ["policy"].iter().chain(allowed).copied();
                    self.error(
                        a.key.span(),
                        format!(
                            "unknown attribute {name:?} in a {:?} block{}",
                            block.ident.as_str(),
                            suggestion_suffix(name, known)
                        ),
                    );
                }
                Structure::Block(b) => self.error(
                    b.ident.span(),
                    format!(
                        "a {:?} block holds no blocks; write policy = \"read\"",
                        block.ident.as_str()
                    ),
                ),
            }
        }
        word
    }

    fn string(&mut self, a: &Attribute) -> Option<String> {
        match &a.value {
            Expression::String(s) => Some(s.value().to_string()),
            _ => {
                self.error(
                    a.value.span(),
                    format!("{} must be a quoted string", a.key.as_str()),
                );
                None
            }
        }
    }

    fn strings(&mut self, a: &Attribute) -> Vec<(String, Option<Range<usize>>)> {
        let Expression::Array(items) = &a.value else {
            self.error(
                a.value.span(),
                format!(
                    "{} must be a list of strings: [\"read-job\"]",
                    a.key.as_str()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item {
                Expression::String(s) => out.push((s.value().to_string(), item.span())),
                other => self.error(other.span(), "each capability must be a quoted string"),
            }
        }
        out
    }

    fn label(&mut self, block: &Block) -> Option<String> {
        match block.labels.as_slice() {
            [label] => Some(label.as_str().to_string()),
            _ => {
                let ident = block.ident.as_str();
                self.error(
                    block.ident.span(),
                    format!(
                        "a {ident:?} block takes exactly one label: {ident} \"<name>\" {{ … }}"
                    ),
                );
                None
            }
        }
    }

    fn unlabeled(&mut self, block: &Block) -> bool {
        if let Some(label) = block.labels.first() {
            self.error(
                label.span(),
                format!("a {:?} block takes no label", block.ident.as_str()),
            );
            return false;
        }
        true
    }

    fn namespace(&mut self, block: &Block) -> Option<NamespaceRule> {
        let name = self.label(block)?;
        let policy = match self.policy_word(block, &["capabilities"]) {
            None => None,
            Some((word, span)) => match NamespacePolicy::parse(&word) {
                Some(p) => Some(p),
                None => {
                    self.error(
                        Some(span),
                        format!(
                            "namespace policy must be deny, read, write or scale, not {word:?}"
                        ),
                    );
                    None
                }
            },
        };
        let mut capabilities = Vec::new();
        if let Some(a) = block.body.get_attribute("capabilities") {
            for (word, span) in self.strings(a) {
                match Capability::parse(&word) {
                    Some(c) => {
                        if !c.is_enforced() {
                            self.warn(
                                span,
                                format!("capability {word:?} guards nothing in drover; it is kept but grants nothing"),
                            );
                        }
                        capabilities.push(c);
                    }
                    None => self.error(
                        span,
                        format!(
                            "unknown capability {word:?}{}",
                            suggestion_suffix(&word, Capability::ALL.iter().map(|c| c.name()))
                        ),
                    ),
                }
            }
        }
        if policy.is_none() && capabilities.is_empty() {
            self.error(
                block.ident.span(),
                format!("namespace {name:?} grants nothing: give it a policy or capabilities"),
            );
        }
        Some(NamespaceRule {
            name,
            policy,
            capabilities,
        })
    }

    fn level(&mut self, block: &Block) -> Option<Level> {
        if !self.unlabeled(block) {
            return None;
        }
        let (word, span) = self.policy_word(block, &[])?;
        let level = Level::parse(&word);
        if level.is_none() {
            self.error(
                Some(span),
                format!(
                    "{} policy must be deny, read or write, not {word:?}",
                    block.ident.as_str()
                ),
            );
        }
        level
    }

    fn key_prefix(&mut self, block: &Block) -> Option<KeyPrefixRule> {
        let prefix = self.label(block)?;
        let (word, span) = self.policy_word(block, &[])?;
        match KeyPolicy::parse(&word) {
            Some(policy) => Some(KeyPrefixRule { prefix, policy }),
            None => {
                self.error(
                    Some(span),
                    format!("key_prefix policy must be deny, list, read or write, not {word:?}"),
                );
                None
            }
        }
    }

    fn top(&mut self, body: &Body) -> Rules {
        let mut rules = Rules::default();
        let mut seen: Vec<&str> = Vec::new();
        for structure in body.iter() {
            let block = match structure {
                Structure::Block(b) => b,
                Structure::Attribute(a) => {
                    self.error(
                        a.key.span(),
                        format!(
                            "{:?} is not a policy block; a policy holds namespace, node, agent, operator and key_prefix blocks",
                            a.key.as_str()
                        ),
                    );
                    continue;
                }
            };
            if rules.namespaces.len() + rules.key_prefixes.len() >= MAX_RULES {
                self.error(
                    block.ident.span(),
                    format!("a policy holds at most {MAX_RULES} namespace and key_prefix blocks"),
                );
                break;
            }
            let ident = block.ident.as_str();
            if matches!(ident, "node" | "agent" | "operator") {
                if seen.contains(&ident) {
                    self.error(
                        block.ident.span(),
                        format!("only one {ident:?} block is allowed"),
                    );
                    continue;
                }
                seen.push(ident);
            }
            match ident {
                "namespace" => {
                    if let Some(rule) = self.namespace(block) {
                        rules.namespaces.push(rule);
                    }
                }
                "node" => rules.node = self.level(block),
                "agent" => rules.agent = self.level(block),
                "operator" => rules.operator = self.level(block),
                "key_prefix" => {
                    if let Some(rule) = self.key_prefix(block) {
                        rules.key_prefixes.push(rule);
                    }
                }
                "quota" | "plugin" | "host_volume" | "node_pool" => self.warn(
                    block.ident.span(),
                    format!("drover has no {ident} rules; this block grants nothing"),
                ),
                other => self.error(
                    block.ident.span(),
                    format!(
                        "unknown policy block {other:?}{}",
                        suggestion_suffix(other, TOP_BLOCKS.iter().copied())
                    ),
                ),
            }
        }
        rules
    }
}

/// Parses `source` (named `file` in diagnostics) into its rules and
/// warnings, or every error found.
pub fn parse_policy(file: &str, source: &str) -> Result<(Rules, Vec<Diagnostic>), Vec<Diagnostic>> {
    if source.len() > MAX_POLICY_BYTES {
        return Err(vec![Diagnostic::error(format!(
            "{file}: a policy is at most {MAX_POLICY_BYTES} bytes, this one is {}",
            source.len()
        ))]);
    }
    let body = hcl_edit::parser::parse_body(source)
        .map_err(|e| vec![crate::jobspec::hcl::syntax_error(file, source, &e)])?;
    let mut reader = Reader {
        file,
        source,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let rules = reader.top(&body);
    if reader.errors.is_empty() {
        Ok((rules, reader.warnings))
    } else {
        Err(reader.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nomads_syntax_reads_into_rules() {
        let (rules, warnings) = parse_policy(
            "team.hcl",
            r#"
namespace "web" {
  policy       = "write"
}
namespace "web-*" {
  capabilities = ["list-jobs", "read-job", "read-logs"]
}
namespace "db" {
  policy = "deny"
}
node {
  policy = "read"
}
agent { policy = "read" }
operator { policy = "deny" }
key_prefix "web/" { policy = "write" }
key_prefix "" { policy = "list" }
"#,
        )
        .expect("parses");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rules.namespaces.len(), 3);
        assert_eq!(rules.namespaces[0].policy, Some(NamespacePolicy::Write));
        assert_eq!(
            rules.namespaces[1].capabilities,
            [
                Capability::ListJobs,
                Capability::ReadJob,
                Capability::ReadLogs
            ]
        );
        assert_eq!(rules.node, Some(Level::Read));
        assert_eq!(rules.agent, Some(Level::Read));
        assert_eq!(rules.operator, Some(Level::Deny));
        assert_eq!(rules.key_prefixes[0].prefix, "web/");
        assert_eq!(rules.key_prefixes[1].policy, KeyPolicy::List);
    }

    #[test]
    fn mistakes_are_reported_where_they_are_with_what_to_write() {
        let errors = parse_policy(
            "bad.hcl",
            "namespace \"web\" {\n  policy = \"writ\"\n}\nnamespace \"db\" {\n  capabilities = [\"read-jobs\"]\n}\nnode {\n  policy = \"read\"\n}\nnode { policy = \"write\" }\nnamespaces \"x\" { policy = \"read\" }\n",
        )
        .expect_err("errors");
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            text.iter().any(|t| t.starts_with("bad.hcl:2:12")
                && t.contains("deny, read, write or scale, not \"writ\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("bad.hcl:5:19") && t.contains("did you mean \"read-job\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("bad.hcl:10:1") && t.contains("only one \"node\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("bad.hcl:11:1") && t.contains("did you mean \"namespace\"")),
            "{text:?}"
        );
    }

    #[test]
    fn capabilities_drover_does_not_guard_are_kept_with_a_warning() {
        let (rules, warnings) = parse_policy(
            "p.hcl",
            "namespace \"*\" { capabilities = [\"csi-read-volume\"] }\nquota { policy = \"read\" }\n",
        )
        .expect("parses");
        assert_eq!(
            rules.namespaces[0].capabilities,
            [Capability::CsiReadVolume]
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn size_and_count_are_bounded() {
        let huge = "#".repeat(MAX_POLICY_BYTES + 1);
        assert!(parse_policy("h.hcl", &huge).is_err());
        let many: String = (0..=MAX_RULES)
            .map(|i| format!("namespace \"n{i}\" {{ policy = \"read\" }}\n"))
            .collect();
        let errors = parse_policy("m.hcl", &many).expect_err("too many");
        assert!(errors[0].to_string().contains("at most"), "{errors:?}");
    }
}
