# A docker config with every kind of nested block: mounts (both spellings),
# ulimit, logging with its config, auth, labels, devices and sysctl.
job "redis" {
  datacenters = ["dc1"]

  group "cache" {
    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image      = "redis:7.2"
        ports      = ["db"]
        command    = "redis-server"
        args       = ["--appendonly", "yes", "--maxmemory", "200mb"]
        force_pull = false
        shm_size   = 67108864
        cpu_hard_limit = true

        mount {
          type     = "volume"
          target   = "/data"
          source   = "redis-data"
          readonly = false

          volume_options {
            no_copy = false

            labels {
              owner = "cache"
            }

            driver_config {
              name = "local"
            }
          }
        }

        mount {
          type   = "tmpfs"
          target = "/tmp/cache"

          tmpfs_options {
            size = 100000
            mode = 1777
          }
        }

        mounts = [
          {
            type   = "bind"
            source = "local/redis.conf"
            target = "/usr/local/etc/redis/redis.conf"
          }
        ]

        ulimit {
          nofile = "65536:65536"
          nproc  = "8192"
        }

        logging {
          type = "json-file"

          config {
            max-size = "10m"
            max-file = "3"
          }
        }

        auth {
          username = "registry-user"
          password = "s3cret"
        }

        labels {
          team = "platform"
        }

        devices = [
          {
            host_path      = "/dev/fuse"
            container_path = "/dev/fuse"
          }
        ]

        sysctl = {
          "net.core.somaxconn" = "16384"
        }
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
