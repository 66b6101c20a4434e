# A typical web service: bridge network, service with checks, rolling
# updates with a canary, env and meta, and a placement constraint.
job "storefront" {
  namespace   = "shop"
  datacenters = ["dc1", "dc2"]
  priority    = 60

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel     = 2
    canary           = 1
    auto_revert      = true
    min_healthy_time = "20s"
  }

  group "web" {
    count = 3

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }
    }

    service {
      name     = "storefront"
      port     = "http"
      provider = "nomad"
      tags     = ["web", "urlprefix-/"]

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"

        check_restart {
          limit = 3
          grace = "1m"
        }
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = "shop/storefront:3.2.0"
        ports = ["http"]
      }

      env {
        PORT      = "8080"
        LOG_LEVEL = "info"
      }

      meta {
        team = "shop"
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }

      kill_timeout = "20s"
    }
  }
}
