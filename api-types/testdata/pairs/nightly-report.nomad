# A periodic batch job with a template, an artifact, and its own restart,
# reschedule and disk policies.
job "nightly-report" {
  type        = "batch"
  datacenters = ["dc1"]

  periodic {
    cron             = "30 3 * * *"
    prohibit_overlap = true
    time_zone        = "UTC"
  }

  group "report" {
    restart {
      attempts = 1
      delay    = "30s"
    }

    reschedule {
      attempts       = 2
      interval       = "6h"
      delay          = "5m"
      delay_function = "constant"
    }

    ephemeral_disk {
      size = 1024
    }

    task "report" {
      driver = "docker"

      artifact {
        source      = "https://example.com/report-queries.tar.gz"
        destination = "local/queries"
      }

      template {
        destination = "local/report.env"
        env         = true
        data        = "REPORT_DATE={{ timestamp \"2006-01-02\" }}\n"
      }

      config {
        image   = "example/reporter:1.8.0"
        command = "/usr/bin/report"
        args    = ["--queries", "/local/queries", "--out", "/alloc/data"]
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
