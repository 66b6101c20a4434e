use super::*;

fn fingerprint() -> Fingerprint {
    let attributes = [
        ("unique.hostname", "host-a"),
        ("unique.network.ip-address", "10.1.2.3"),
        ("kernel.name", "linux"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Fingerprint {
        attributes,
        resources: NodeResources {
            cpu: 8000,
            cores: 4,
            memory: 16000,
            disk: 50000,
        },
    }
}

fn docker(healthy: bool) -> BTreeMap<String, DriverInfo> {
    let info = DriverInfo {
        detected: true,
        healthy,
        health_description: if healthy { "Healthy" } else { "Docker is down" }.into(),
        attributes: [("driver.docker.version".to_string(), "24.0.7".to_string())]
            .into_iter()
            .collect(),
        update_time: None,
    };
    [("docker".to_string(), info)].into_iter().collect()
}

#[test]
fn node_object_takes_name_and_address_from_the_fingerprint_by_default() {
    let config = NodeAgentConfig::default();
    let node = node_object("id-1", &config, &fingerprint(), docker(true));
    assert_eq!(node.metadata.uid, "id-1");
    assert_eq!(node.metadata.name, "host-a");
    assert_eq!(node.spec.address, "10.1.2.3");
    assert_eq!(node.spec.datacenter, "dc1");
    assert_eq!(node.spec.node_pool, "default");
    assert_eq!(node.spec.resources.cpu, 8000);
    assert_eq!(
        (node.spec.min_dynamic_port, node.spec.max_dynamic_port),
        (20000, 32000)
    );
    assert_eq!(node.spec.attributes["driver.docker"], "1");
    assert_eq!(node.spec.attributes["driver.docker.version"], "24.0.7");
    assert_eq!(node.spec.agent_version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn node_object_follows_the_config() {
    let config = NodeAgentConfig {
        name: "web-1".into(),
        datacenter: "eu-west".into(),
        node_class: "big".into(),
        address: Some("192.168.9.9".parse().expect("ip")),
        port_range: (30000, 30100),
        reserved: NodeResources {
            cpu: 500,
            memory: 512,
            ..Default::default()
        },
        ..Default::default()
    };
    let node = node_object("id-2", &config, &fingerprint(), BTreeMap::new());
    assert_eq!(node.metadata.name, "web-1");
    assert_eq!(node.spec.datacenter, "eu-west");
    assert_eq!(node.spec.node_class, "big");
    assert_eq!(node.spec.address, "192.168.9.9");
    assert_eq!(node.spec.min_dynamic_port, 30000);
    assert_eq!(node.spec.reserved.cpu, 500);
    assert!(!node.spec.attributes.contains_key("driver.docker"));
}

#[test]
fn an_unhealthy_driver_has_no_driver_attribute() {
    let node = node_object(
        "id-3",
        &NodeAgentConfig::default(),
        &fingerprint(),
        docker(false),
    );
    assert!(!node.spec.attributes.contains_key("driver.docker"));
    assert!(!node.spec.drivers["docker"].healthy);
}

#[test]
fn backoff_doubles_up_to_half_a_second_whatever_the_ttl() {
    let mut b = Backoff::new();
    let steps: Vec<u128> = (0..5).map(|_| b.next().as_millis()).collect();
    assert_eq!(steps, vec![100, 200, 400, 500, 500]);
    b.reset();
    assert_eq!(b.next(), Duration::from_millis(100));
}

#[test]
fn an_attempt_waits_a_third_of_the_ttl_within_half_a_second_and_two() {
    assert_eq!(
        attempt_timeout(Duration::from_secs(1)),
        Duration::from_millis(500)
    );
    assert_eq!(
        attempt_timeout(Duration::from_secs(3)),
        Duration::from_secs(1)
    );
    assert_eq!(
        attempt_timeout(Duration::from_secs(60)),
        Duration::from_secs(2)
    );
}
