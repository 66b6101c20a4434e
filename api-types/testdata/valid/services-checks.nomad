# A service registered at group and task level with HTTP, TCP, script and
# gRPC checks, check_restart and headers.
job "checkout" {
  datacenters = ["dc1"]

  group "checkout" {
    count = 2

    network {
      port "http" {
        to = 8080
      }
      port "grpc" {
        to = 9090
      }
    }

    service {
      name         = "checkout"
      port         = "http"
      provider     = "nomad"
      tags         = ["urlprefix-/checkout", "v2"]
      canary_tags  = ["canary"]
      address_mode = "host"
      task         = "app"

      meta {
        version = "2.1.0"
        owner   = "payments"
      }

      canary_meta {
        version = "2.2.0-rc1"
      }

      check {
        name     = "checkout-http"
        type     = "http"
        path     = "/healthz"
        method   = "GET"
        protocol = "http"
        interval = "10s"
        timeout  = "2s"

        header {
          Authorization = ["Bearer internal"]
          X-Probe       = ["nomad", "drover"]
        }

        check_restart {
          limit           = 3
          grace           = "30s"
          ignore_warnings = true
        }
      }

      check {
        name                     = "checkout-tcp"
        type                     = "tcp"
        port                     = "grpc"
        interval                 = "15s"
        timeout                  = "3s"
        success_before_passing   = 2
        failures_before_critical = 3
        initial_status           = "warning"
      }
    }

    task "app" {
      driver = "docker"

      config {
        image = "registry.example.com/checkout:2.1.0"
        ports = ["http", "grpc"]
      }

      service {
        name              = "checkout-grpc"
        port              = "grpc"
        enable_tag_override = true
        on_update         = "require_healthy"

        check {
          name     = "grpc-health"
          type     = "grpc"
          interval = "20s"
          timeout  = "5s"
        }

        check {
          name      = "db-reachable"
          type      = "script"
          command   = "/bin/sh"
          args      = ["-c", "nc -z db.service.consul 5432"]
          interval  = "30s"
          timeout   = "5s"
          on_update = "ignore_warnings"
        }
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
