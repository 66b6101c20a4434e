# A service with a host volume, a prestart sidecar, affinity and spread,
# group meta and a driver config with mounts and logging.
job "log-collector" {
  datacenters = ["dc1", "dc2"]

  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 40
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 80

    target "dc1" {
      percent = 70
    }

    target "dc2" {
      percent = 30
    }
  }

  group "collector" {
    count = 2

    meta {
      role = "logging"
    }

    volume "logs" {
      type      = "host"
      source    = "var-log"
      read_only = true
    }

    task "init-dirs" {
      driver = "docker"

      lifecycle {
        hook = "prestart"
      }

      config {
        image   = "busybox:1.36"
        command = "mkdir"
        args    = ["-p", "/alloc/data/buffer"]
      }
    }

    task "vector" {
      driver = "docker"

      volume_mount {
        volume      = "logs"
        destination = "/var/log/host"
        read_only   = true
      }

      config {
        image = "timberio/vector:0.36.0-alpine"

        mount {
          type   = "bind"
          source = "local/vector.toml"
          target = "/etc/vector/vector.toml"
        }

        logging {
          type = "json-file"

          config {
            max-size = "5m"
          }
        }
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
