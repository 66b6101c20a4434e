# A Nomad 0.x job as many still run it: docker port_map, task-level network
# with a static and a dynamic port, max_client_disconnect, a lone string for
# datacenters, and numbers and booleans written as strings.
job "legacy-web" {
  datacenters = "dc1"
  priority    = "60"

  group "web" {
    count                 = "2"
    max_client_disconnect = "2h"

    update {
      auto_revert = "true"
    }

    task "frontend" {
      driver = "docker"

      config {
        image = "nginx:1.18"

        port_map {
          http  = 80
          https = 443
        }
      }

      resources {
        cpu    = 250
        memory = 128

        network {
          mbits = 10

          port "http" {}

          port "https" {
            static = 8443
          }
        }
      }
    }
  }
}
