# Configuration rendered from templates, and binaries fetched as artifacts.
job "prometheus" {
  datacenters = ["dc1"]

  group "monitoring" {
    network {
      port "http" {
        static = 9090
      }
    }

    task "prometheus" {
      driver = "docker"

      artifact {
        source      = "https://github.com/prometheus/prometheus/releases/download/v2.50.1/prometheus-2.50.1.linux-amd64.tar.gz"
        destination = "local/prometheus"
        mode        = "any"

        options {
          checksum = "sha256:f27d26cfb5ee9f8d2b3a1cf4b3c2b4bd14bfb1a8b1b3b0f5e8b2b2a5e5d6c7a8"
        }
      }

      artifact {
        source = "https://example.com/rules.yml"
        headers = {
          Authorization = "Bearer xyz"
        }
      }

      template {
        destination   = "local/prometheus.yml"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        splay         = "10s"
        perms         = "0640"
        data          = <<-EOT
          global:
            scrape_interval: 15s
          scrape_configs:
            - job_name: nomad
              static_configs:
                - targets: ['{{ env "attr.unique.network.ip-address" }}:4646']
            - job_name: self
              static_configs:
                - targets: ['${NOMAD_ADDR_http}']
        EOT
      }

      template {
        destination     = "secrets/app.env"
        env             = true
        change_mode     = "restart"
        left_delimiter  = "[["
        right_delimiter = "]]"
        data            = "RETENTION=[[ key \"prometheus/retention\" ]]\n"
      }

      template {
        source      = "local/rules.yml"
        destination = "local/rules/rules.yml"
        change_mode = "noop"
      }

      config {
        image = "prom/prometheus:v2.50.1"
        ports = ["http"]
        args  = ["--config.file=/local/prometheus.yml"]
      }

      resources {
        cpu    = 500
        memory = 1024
      }
    }
  }
}
