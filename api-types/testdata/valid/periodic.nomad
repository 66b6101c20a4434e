# Database backups every night and at noon, never overlapping.
job "db-backup" {
  datacenters = ["dc1"]
  type        = "batch"

  periodic {
    crons            = ["0 2 * * *", "0 12 * * *"]
    prohibit_overlap = true
    time_zone        = "Europe/Paris"
  }

  group "backup" {
    task "pg-dump" {
      driver = "docker"

      config {
        image   = "postgres:16"
        command = "sh"
        args    = ["-c", "pg_dump -h db.service.consul app | gzip > /alloc/data/app-$(date +%F).sql.gz"]
      }

      env {
        PGUSER = "backup"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}

