# A system job: one node exporter on every Linux client.
job "node-exporter" {
  datacenters = ["*"]
  type        = "system"
  node_pool   = "all"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel = 2
    stagger      = "15s"
  }

  group "exporter" {
    network {
      port "metrics" {
        static = 9100
      }
    }

    service {
      name = "node-exporter"
      port = "metrics"
      tags = ["prometheus"]

      check {
        type     = "http"
        path     = "/metrics"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "node-exporter" {
      driver = "docker"

      config {
        image        = "prom/node-exporter:v1.7.0"
        network_mode = "host"
        pid_mode     = "host"
        args         = ["--path.rootfs=/host"]
        volumes      = ["/:/host:ro,rslave"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
