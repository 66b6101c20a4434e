//! Resolving the left and right sides of constraints, affinities and
//! spreads against a node: `${attr.x}`, `${meta.x}`, `${node.unique.id}`,
//! `${node.unique.name}`, `${node.datacenter}`, `${node.class}`,
//! `${node.pool}`; anything not wrapped in `${…}` is a literal.
//!
//! `None` means "not set on this node", which `is_set`/`is_not_set` test
//! and which makes most operators false (Nomad's rule).

use drover_api_types::Node;

/// The value of `target` on `node`, or `None` when the node lacks it.
pub fn resolve(node: &Node, target: &str) -> Option<String> {
    let target = target.trim();
    let Some(inner) = target
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return Some(target.to_string());
    };
    let spec = &node.spec;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match inner {
        "node.unique.id" => non_empty(&node.metadata.uid),
        "node.unique.name" => non_empty(&node.metadata.name),
        "node.datacenter" => non_empty(&spec.datacenter),
        "node.class" => non_empty(&spec.node_class),
        "node.pool" => Some(if spec.node_pool.is_empty() {
            "default".to_string()
        } else {
            spec.node_pool.clone()
        }),
        _ => {
            if let Some(name) = inner.strip_prefix("attr.") {
                spec.attributes.get(name).cloned()
            } else if let Some(name) = inner.strip_prefix("meta.") {
                spec.meta.get(name).cloned()
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::tests::node;

    #[test]
    fn resolves_every_kind() {
        let n = node("n1");
        let table: &[(&str, Option<&str>)] = &[
            ("${attr.kernel.name}", Some("linux")),
            ("${attr.missing}", None),
            ("${meta.rack}", Some("r1")),
            ("${meta.missing}", None),
            ("${node.unique.id}", Some("uid-n1")),
            ("${node.unique.name}", Some("n1")),
            ("${node.datacenter}", Some("dc1")),
            ("${node.class}", Some("compute")),
            ("${node.pool}", Some("default")),
            ("${unknown.thing}", None),
            ("windows", Some("windows")),
            ("", Some("")),
        ];
        for (target, want) in table {
            assert_eq!(resolve(&n, target).as_deref(), *want, "resolving {target}");
        }
    }
}
