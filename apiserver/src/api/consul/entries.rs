//! The catalog's answers in Consul's shapes, built from a snapshot of the
//! catalog view (pure: no I/O, no clock). Field names are the ones Consul's
//! clients read (`api.ServiceEntry`, `api.CatalogService`, `api.Node`,
//! `api.HealthCheck`), and the filter language selects on exactly these.
//!
//! Every node gets Consul's `serfHealth` check, passing only while it is
//! ready, so `passing` leaves out instances on nodes that are down.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use drover_api_types::node::{Node, NodeStatus};
use drover_api_types::service::ServiceRegistration;
use serde_json::{json, Value};

use super::filter::Fields;
use crate::catalog_health::{node_health, Health};

/// What the catalog holds at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub services: Vec<ServiceRegistration>,
    /// By node id.
    pub nodes: HashMap<String, Node>,
    /// By node id.
    pub node_status: HashMap<String, NodeStatus>,
}

/// Which registrations a read asks for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// `None`: every datacenter.
    pub datacenter: Option<String>,
    /// Every one must be among the instance's tags.
    pub tags: Vec<String>,
    /// `node-meta=k:v`: every pair must be in the node's meta.
    pub node_meta: Vec<(String, String)>,
    /// Only namespaces where the caller may read jobs (`None`: all).
    pub readable: Option<std::sync::Arc<drover_api_types::acl::Acl>>,
}

pub const SERF_CHECK_ID: &str = "serfHealth";

/// Selectors of a health entry (`/v1/health/service`).
pub const HEALTH_FIELDS: Fields = Fields(&[
    "Node.ID",
    "Node.Node",
    "Node.Address",
    "Node.Datacenter",
    "Node.TaggedAddresses.*",
    "Node.Meta.*",
    "Service.ID",
    "Service.Service",
    "Service.Kind",
    "Service.Tags",
    "Service.Address",
    "Service.Port",
    "Service.Meta.*",
    "Service.TaggedAddresses.*",
    "Service.EnableTagOverride",
    "Service.Namespace",
    "Checks",
    "Checks.Node",
    "Checks.CheckID",
    "Checks.Name",
    "Checks.Status",
    "Checks.Notes",
    "Checks.Output",
    "Checks.ServiceID",
    "Checks.ServiceName",
    "Checks.ServiceTags",
    "Checks.Type",
    "Checks.Namespace",
]);

/// Selectors of a catalog service (`/v1/catalog/service`, `/services`).
pub const CATALOG_SERVICE_FIELDS: Fields = Fields(&[
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses.*",
    "NodeMeta.*",
    "ServiceKind",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "ServiceAddress",
    "ServicePort",
    "ServiceMeta.*",
    "ServiceTaggedAddresses.*",
    "ServiceEnableTagOverride",
    "Namespace",
]);

/// Selectors of a node (`/v1/catalog/nodes`).
pub const NODE_FIELDS: Fields = Fields(&[
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses.*",
    "Meta.*",
]);

/// Selectors of a check (`/v1/health/state`, `/checks`, `/node`).
pub const CHECK_FIELDS: Fields = Fields(&[
    "Node",
    "CheckID",
    "Name",
    "Status",
    "Notes",
    "Output",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Type",
    "Namespace",
]);

/// A node as the registration sees it: the node object when it is known,
/// else what the registration recorded about it.
struct NodeRef<'a> {
    id: &'a str,
    name: &'a str,
    address: &'a str,
    datacenter: &'a str,
    meta: Option<&'a BTreeMap<String, String>>,
    index: i64,
}

impl Snapshot {
    fn node_of<'a>(&'a self, reg: &'a ServiceRegistration) -> NodeRef<'a> {
        match self.nodes.get(&reg.spec.node_id) {
            Some(node) => node_ref(&reg.spec.node_id, node),
            None => NodeRef {
                id: &reg.spec.node_id,
                name: &reg.spec.node_name,
                address: "",
                datacenter: &reg.spec.datacenter,
                meta: None,
                index: 0,
            },
        }
    }

    /// The registrations `sel` asks for, named `name` if given, in a
    /// stable order (node name, then instance id).
    pub fn select(&self, sel: &Selection, name: Option<&str>) -> Vec<&ServiceRegistration> {
        let mut out: Vec<&ServiceRegistration> = self
            .services
            .iter()
            .filter(|r| name.is_none_or(|n| r.spec.service_name == n))
            .filter(|r| {
                sel.namespace
                    .as_deref()
                    .is_none_or(|ns| namespace_of(r) == ns)
            })
            .filter(|r| {
                sel.readable.as_ref().is_none_or(|acl| {
                    acl.allows(namespace_of(r), drover_api_types::acl::Capability::ReadJob)
                })
            })
            .filter(|r| sel.tags.iter().all(|t| r.spec.tags.contains(t)))
            .filter(|r| {
                let node = self.node_of(r);
                sel.datacenter
                    .as_deref()
                    .is_none_or(|dc| node.datacenter == dc)
                    && sel
                        .node_meta
                        .iter()
                        .all(|(k, v)| node.meta.and_then(|m| m.get(k)) == Some(v))
            })
            .collect();
        out.sort_by(|a, b| {
            (self.node_of(a).name, &a.metadata.name).cmp(&(self.node_of(b).name, &b.metadata.name))
        });
        out
    }

    /// `/v1/health/service/<name>` entries: `{Node, Service, Checks}`.
    pub fn health_entry(&self, reg: &ServiceRegistration) -> Value {
        let node = self.node_of(reg);
        let mut checks = vec![self.serf_check(&node)];
        checks.extend(service_checks(reg, node.name));
        json!({
            "Node": node_json(&node),
            "Service": service_json(reg),
            "Checks": checks,
        })
    }

    /// `/v1/catalog/service/<name>` entries (`api.CatalogService`).
    pub fn catalog_service(&self, reg: &ServiceRegistration) -> Value {
        let node = self.node_of(reg);
        let s = &reg.spec;
        json!({
            "ID": node.id,
            "Node": node.name,
            "Address": node.address,
            "Datacenter": node.datacenter,
            "TaggedAddresses": tagged(node.address),
            "NodeMeta": node.meta.cloned().unwrap_or_default(),
            "ServiceKind": "",
            "ServiceID": reg.metadata.name,
            "ServiceName": s.service_name,
            "ServiceTags": s.tags,
            "ServiceAddress": s.address,
            "ServiceTaggedAddresses": {},
            "ServiceWeights": {"Passing": 1, "Warning": 1},
            "ServiceMeta": s.meta,
            "ServicePort": s.port,
            "ServiceEnableTagOverride": false,
            "ServiceProxy": {},
            "ServiceConnect": {},
            "Namespace": namespace_of(reg),
            "CreateIndex": reg.metadata.resource_version,
            "ModifyIndex": reg.metadata.resource_version,
        })
    }

    /// Every node in `datacenter` (all if `None`), sorted by name.
    pub fn nodes(&self, datacenter: Option<&str>) -> Vec<Value> {
        let mut refs: Vec<NodeRef<'_>> = self
            .nodes
            .iter()
            .map(|(id, n)| node_ref(id, n))
            .filter(|n| datacenter.is_none_or(|dc| n.datacenter == dc))
            .collect();
        refs.sort_by(|a, b| (a.name, a.id).cmp(&(b.name, b.id)));
        refs.iter().map(node_json).collect()
    }

    /// A node's id, found by name or id.
    pub fn find_node(&self, name_or_id: &str) -> Option<&str> {
        if self.nodes.contains_key(name_or_id) {
            return self
                .nodes
                .get_key_value(name_or_id)
                .map(|(k, _)| k.as_str());
        }
        self.nodes
            .iter()
            .find(|(_, n)| n.metadata.name == name_or_id)
            .map(|(id, _)| id.as_str())
    }

    /// `/v1/catalog/node/<node>`: `{Node, Services: {id: service}}`.
    pub fn node_services(&self, node_id: &str, sel: &Selection) -> Option<Value> {
        let node = self.nodes.get(node_id)?;
        let services: serde_json::Map<String, Value> = self
            .select(sel, None)
            .into_iter()
            .filter(|r| r.spec.node_id == node_id)
            .map(|r| (r.metadata.name.clone(), service_json(r)))
            .collect();
        Some(json!({"Node": node_json(&node_ref(node_id, node)), "Services": services}))
    }

    /// The checks on one node: its `serfHealth` and its instances' checks.
    pub fn node_checks(&self, node_id: &str, sel: &Selection) -> Vec<Value> {
        let Some(node) = self.nodes.get(node_id) else {
            return Vec::new();
        };
        let node = node_ref(node_id, node);
        let mut out = vec![self.serf_check(&node)];
        for reg in self.select(sel, None) {
            if reg.spec.node_id == node_id {
                out.extend(service_checks(reg, node.name));
            }
        }
        out
    }

    /// The checks of a service's instances (no node checks, as Consul).
    pub fn service_checks(&self, name: &str, sel: &Selection) -> Vec<Value> {
        self.select(sel, Some(name))
            .into_iter()
            .flat_map(|r| service_checks(r, self.node_of(r).name))
            .collect()
    }

    /// Every check in the catalog: each node's and each instance's.
    pub fn all_checks(&self, sel: &Selection) -> Vec<Value> {
        let mut ids: Vec<&String> = self.nodes.keys().collect();
        ids.sort();
        let mut out: Vec<Value> = ids
            .into_iter()
            .filter_map(|id| self.nodes.get(id).map(|n| node_ref(id, n)))
            .filter(|n| {
                sel.datacenter
                    .as_deref()
                    .is_none_or(|dc| n.datacenter == dc)
            })
            .map(|n| self.serf_check(&n))
            .collect();
        for reg in self.select(sel, None) {
            out.extend(service_checks(reg, self.node_of(reg).name));
        }
        out
    }

    /// The datacenters nodes are in, sorted.
    pub fn datacenters(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .nodes
            .values()
            .map(|n| n.spec.datacenter.as_str())
            .filter(|dc| !dc.is_empty())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// The datacenter the agent reports: the one most nodes are in
    /// (ties: the first by name), `dc1` (Nomad's default) without nodes.
    pub fn local_datacenter(&self) -> String {
        crate::catalog_synth::majority_datacenter(self.nodes.values())
    }

    fn serf_check(&self, node: &NodeRef<'_>) -> Value {
        let health = node_health(self.node_status.get(node.id));
        let output = match health {
            Health::Passing => "Agent alive and reachable",
            _ => "Agent not live or unreachable",
        };
        json!({
            "Node": node.name,
            "CheckID": SERF_CHECK_ID,
            "Name": "Serf Health Status",
            "Status": health.as_str(),
            "Notes": "",
            "Output": output,
            "ServiceID": "",
            "ServiceName": "",
            "ServiceTags": [],
            "Type": "",
            "Namespace": "default",
            "CreateIndex": node.index,
            "ModifyIndex": node.index,
        })
    }
}

fn node_ref<'a>(id: &'a str, node: &'a Node) -> NodeRef<'a> {
    NodeRef {
        id,
        name: &node.metadata.name,
        address: &node.spec.address,
        datacenter: &node.spec.datacenter,
        meta: Some(&node.spec.meta),
        index: node.metadata.resource_version,
    }
}

fn namespace_of(reg: &ServiceRegistration) -> &str {
    match reg.metadata.namespace.as_str() {
        "" => drover_api_types::meta::DEFAULT_NAMESPACE,
        ns => ns,
    }
}

fn tagged(address: &str) -> Value {
    json!({"lan": address, "lan_ipv4": address, "wan": address, "wan_ipv4": address})
}

fn node_json(node: &NodeRef<'_>) -> Value {
    json!({
        "ID": node.id,
        "Node": node.name,
        "Address": node.address,
        "Datacenter": node.datacenter,
        "TaggedAddresses": tagged(node.address),
        "Meta": node.meta.cloned().unwrap_or_default(),
        "CreateIndex": node.index,
        "ModifyIndex": node.index,
    })
}

/// `api.AgentService`.
fn service_json(reg: &ServiceRegistration) -> Value {
    let s = &reg.spec;
    json!({
        "ID": reg.metadata.name,
        "Service": s.service_name,
        "Kind": "",
        "Tags": s.tags,
        "Address": s.address,
        "TaggedAddresses": {},
        "Meta": s.meta,
        "Port": s.port,
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": false,
        "Namespace": namespace_of(reg),
        "Datacenter": s.datacenter,
        "CreateIndex": reg.metadata.resource_version,
        "ModifyIndex": reg.metadata.resource_version,
    })
}

fn service_checks(reg: &ServiceRegistration, node_name: &str) -> Vec<Value> {
    reg.spec
        .checks
        .iter()
        .map(|c| {
            let id = if c.check_id.is_empty() {
                format!("service:{}", reg.metadata.name)
            } else {
                c.check_id.clone()
            };
            json!({
                "Node": node_name,
                "CheckID": id,
                "Name": c.name,
                "Status": Health::parse(&c.status).as_str(),
                "Notes": "",
                "Output": c.output,
                "ServiceID": reg.metadata.name,
                "ServiceName": reg.spec.service_name,
                "ServiceTags": reg.spec.tags,
                "Type": "",
                "Namespace": namespace_of(reg),
                "CreateIndex": reg.metadata.resource_version,
                "ModifyIndex": reg.metadata.resource_version,
            })
        })
        .collect()
}

/// Whether an entry's checks (`Checks` of a health entry) all pass — what
/// `?passing` keeps; Consul drops warnings too.
pub fn all_passing(entry: &Value) -> bool {
    entry
        .get("Checks")
        .and_then(Value::as_array)
        .is_none_or(|checks| {
            checks
                .iter()
                .all(|c| c.get("Status").and_then(Value::as_str) == Some("passing"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_api_types::node::NodeState;
    use drover_api_types::service::CheckStatus;
    use drover_api_types::ObjectMeta;

    fn node(id: &str, name: &str, dc: &str) -> (String, Node) {
        let mut n = Node {
            metadata: ObjectMeta {
                name: name.into(),
                uid: id.into(),
                resource_version: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        n.spec.datacenter = dc.into();
        n.spec.address = format!("10.0.0.{}", id.len());
        n.spec.meta.insert("rack".into(), "r1".into());
        (id.into(), n)
    }

    fn reg(
        id: &str,
        name: &str,
        node: &str,
        tags: &[&str],
        checks: &[&str],
    ) -> ServiceRegistration {
        let mut r = ServiceRegistration::default();
        r.metadata.name = id.into();
        r.metadata.namespace = "default".into();
        r.metadata.resource_version = 7;
        r.spec.service_name = name.into();
        r.spec.node_id = node.into();
        r.spec.port = 8080;
        r.spec.tags = tags.iter().map(|t| t.to_string()).collect();
        r.spec.checks = checks
            .iter()
            .enumerate()
            .map(|(i, s)| CheckStatus {
                check_id: format!("c{i}"),
                name: format!("check {i}"),
                status: s.to_string(),
                ..Default::default()
            })
            .collect();
        r
    }

    fn snapshot() -> Snapshot {
        let ready = NodeStatus {
            state: NodeState::Ready,
            ..Default::default()
        };
        let down = NodeStatus {
            state: NodeState::Down,
            ..Default::default()
        };
        Snapshot {
            services: vec![
                reg("w2", "web", "n2", &["http"], &["passing"]),
                reg("w1", "web", "n1", &["http", "v2"], &["passing"]),
                reg("w3", "web", "n1", &["http"], &["warning"]),
                reg("d1", "db", "n1", &["sql"], &[]),
            ],
            nodes: [node("n1", "alpha", "dc1"), node("n2", "beta", "dc2")]
                .into_iter()
                .collect(),
            node_status: [("n1".to_string(), ready), ("n2".to_string(), down)]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn health_entries_carry_the_node_check_and_consul_names() {
        let s = snapshot();
        let sel = Selection::default();
        let regs = s.select(&sel, Some("web"));
        let ids: Vec<&str> = regs.iter().map(|r| r.metadata.name.as_str()).collect();
        assert_eq!(ids, ["w1", "w3", "w2"], "by node name, then id");
        let e = s.health_entry(regs[0]);
        assert_eq!(e["Node"]["Node"], "alpha");
        assert_eq!(e["Node"]["TaggedAddresses"]["lan"], e["Node"]["Address"]);
        assert_eq!(e["Service"]["ID"], "w1");
        assert_eq!(e["Service"]["Service"], "web");
        assert_eq!(e["Service"]["Port"], 8080);
        assert_eq!(e["Checks"][0]["CheckID"], SERF_CHECK_ID);
        assert_eq!(e["Checks"][0]["Status"], "passing");
        assert_eq!(e["Checks"][1]["ServiceID"], "w1");
        assert!(all_passing(&e));
        // Warning fails `passing`, and so does a down node.
        assert!(!all_passing(&s.health_entry(regs[1])));
        let on_down = s.health_entry(regs[2]);
        assert_eq!(on_down["Checks"][0]["Status"], "critical");
        assert!(!all_passing(&on_down));
    }

    #[test]
    fn selections_filter_by_tag_dc_namespace_and_node_meta() {
        let s = snapshot();
        let names = |sel: &Selection| -> Vec<String> {
            s.select(sel, Some("web"))
                .iter()
                .map(|r| r.metadata.name.clone())
                .collect()
        };
        let tags = Selection {
            tags: vec!["http".into(), "v2".into()],
            ..Default::default()
        };
        assert_eq!(names(&tags), ["w1"]);
        let dc = Selection {
            datacenter: Some("dc2".into()),
            ..Default::default()
        };
        assert_eq!(names(&dc), ["w2"]);
        let ns = Selection {
            namespace: Some("other".into()),
            ..Default::default()
        };
        assert!(names(&ns).is_empty());
        let meta = Selection {
            node_meta: vec![("rack".into(), "r1".into())],
            ..Default::default()
        };
        assert_eq!(names(&meta).len(), 3);
    }

    #[test]
    fn catalog_shapes() {
        let s = snapshot();
        let all = s.select(&Selection::default(), None);
        let c = s.catalog_service(all[0]);
        assert_eq!(c["ServiceName"], "db");
        assert_eq!(c["Node"], "alpha");
        assert_eq!(c["NodeMeta"]["rack"], "r1");
        assert_eq!(s.datacenters(), ["dc1", "dc2"]);
        assert_eq!(s.find_node("beta"), Some("n2"));
        let node = s
            .node_services("n1", &Selection::default())
            .expect("known node");
        assert_eq!(node["Services"].as_object().map(|m| m.len()), Some(3));
        assert_eq!(s.node_checks("n2", &Selection::default()).len(), 2);
        assert_eq!(s.service_checks("web", &Selection::default()).len(), 3);
        assert_eq!(s.all_checks(&Selection::default()).len(), 2 + 3);
        assert_eq!(s.nodes(Some("dc2")).len(), 1);
        assert_eq!(s.local_datacenter(), "dc1");
        assert_eq!(Snapshot::default().local_datacenter(), "dc1");
    }
}
