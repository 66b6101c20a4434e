# Host and CSI volumes mounted into a database task.
job "postgres" {
  datacenters = ["dc1"]

  group "db" {
    volume "pgdata" {
      type      = "host"
      source    = "pgdata"
      read_only = false
    }

    volume "backups" {
      type            = "csi"
      source          = "backups"
      access_mode     = "multi-node-multi-writer"
      attachment_mode = "file-system"
      per_alloc       = true
    }

    volume "certs" {
      type      = "host"
      source    = "tls-certs"
      read_only = true
    }

    network {
      port "db" {
        static = 5432
      }
    }

    task "postgres" {
      driver = "docker"

      volume_mount {
        volume      = "pgdata"
        destination = "/var/lib/postgresql/data"
      }

      volume_mount {
        volume           = "backups"
        destination      = "/backups"
        propagation_mode = "private"
      }

      volume_mount {
        volume      = "certs"
        destination = "/etc/ssl/pg"
        read_only   = true
      }

      config {
        image = "postgres:16.2"
        ports = ["db"]
      }

      env {
        PGDATA = "/var/lib/postgresql/data/pgdata"
      }

      resources {
        cpu        = 2000
        memory     = 4096
        memory_max = 6144
      }
    }
  }
}
