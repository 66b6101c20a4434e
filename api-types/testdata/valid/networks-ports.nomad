# Bridge and host networking, static and dynamic ports, DNS settings.
job "edge-proxy" {
  datacenters = ["dc1"]

  group "proxy" {
    count = 2

    network {
      mode     = "bridge"
      hostname = "proxy-${NOMAD_ALLOC_INDEX}"

      port "http" {
        static = 80
        to     = 8080
      }

      port "https" {
        static       = 443
        to           = 8443
        host_network = "public"
      }

      port "admin" {
        to = 9901
      }

      port "metrics" {}

      dns {
        servers  = ["10.0.0.2", "1.1.1.1"]
        searches = ["service.consul", "internal"]
        options  = ["ndots:2", "timeout:1"]
      }
    }

    task "envoy" {
      driver = "docker"

      config {
        image = "envoyproxy/envoy:v1.29.1"
        ports = ["http", "https", "admin", "metrics"]
        args  = ["-c", "/local/envoy.yaml", "--base-id", "${NOMAD_ALLOC_INDEX}"]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }

  group "host-agent" {
    network {
      mode = "host"
      mbits = 100

      port "stats" {
        static = 8125
      }
    }

    task "statsd" {
      driver = "docker"

      config {
        image        = "statsd/statsd:v0.10.2"
        network_mode = "host"
      }
    }
  }
}
