# Main task with prestart, poststart, sidecar and poststop helpers.
job "app-with-hooks" {
  datacenters = ["dc1"]

  group "app" {
    network {
      port "http" {
        to = 3000
      }
    }

    task "wait-for-db" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image   = "busybox:1.36"
        command = "sh"
        args    = ["-c", "until nc -z db.service.consul 5432; do sleep 1; done"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }

    task "log-shipper" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = true
      }

      config {
        image = "fluent/fluent-bit:2.2"
      }
    }

    task "app" {
      driver = "docker"
      leader = true

      config {
        image = "ghcr.io/example/app:1.0.0"
        ports = ["http"]
      }

      kill_timeout = "30s"
      kill_signal  = "SIGINT"
      shutdown_delay = "5s"

      logs {
        max_files     = 5
        max_file_size = 20
      }
    }

    task "announce" {
      driver = "docker"

      lifecycle {
        hook = "poststart"
      }

      config {
        image   = "curlimages/curl:8.6.0"
        args    = ["-fsS", "-X", "POST", "http://deploy-hooks.internal/started/${NOMAD_ALLOC_ID}"]
      }
    }

    task "cleanup" {
      driver = "docker"

      lifecycle {
        hook = "poststop"
      }

      config {
        image   = "busybox:1.36"
        command = "rm"
        args    = ["-rf", "/alloc/data/tmp"]
      }
    }
  }
}
