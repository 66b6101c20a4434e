# A nightly-style batch job: several parallel workers run to completion.
job "video-transcode" {
  datacenters = ["dc1"]
  type        = "batch"
  priority    = 30

  group "workers" {
    count = 4

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    reschedule {
      attempts       = 3
      interval       = "2h"
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = false
    }

    ephemeral_disk {
      size    = 2048
      sticky  = true
      migrate = true
    }

    task "ffmpeg" {
      driver = "docker"

      config {
        image   = "jrottenberg/ffmpeg:6.1-alpine"
        command = "/local/transcode.sh"
        args    = ["--shard", "${NOMAD_ALLOC_INDEX}", "--of", "4"]
      }

      template {
        destination = "local/transcode.sh"
        perms       = "0755"
        data        = <<EOT
#!/bin/sh
set -eu
echo "shard $2 of $4"
EOT
      }

      resources {
        cpu    = 4000
        memory = 2048
        cores  = 2
      }
    }
  }
}
