# Nomad features drover does not run yet are named in warnings, not dropped
# silently: vault, consul, connect, scaling, identity, device.
job "mesh-app" {
  datacenters = ["dc1"]

  vault {
    policies = ["app"]
  }

  group "app" {
    count = 2

    scaling {
      min = 1
      max = 5
    }

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }
    }

    service {
      name = "mesh-app"
      port = "http"

      connect {
        sidecar_service {}
      }
    }

    task "app" {
      driver = "docker"

      identity {
        env = true
      }

      config {
        image = "ghcr.io/example/mesh-app:0.4.0"
        ports = ["http"]
      }

      resources {
        cpu    = 200
        memory = 128

        device "nvidia/gpu" {
          count = 1
        }
      }
    }
  }
}
