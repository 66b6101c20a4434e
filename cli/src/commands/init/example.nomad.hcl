# An example job, written by `drover init`. Check it with `drover validate`,
# run it with `drover apply -f example.nomad.hcl`, watch it with
# `drover describe job example`. The syntax is Nomad's: a file that works
# with `nomad job run` works here.
job "example" {
  # service: kept running; batch: runs to completion; system: one per node.
  type = "service"

  # Only nodes in these datacenters are considered.
  datacenters = ["dc1"]

  # 1-100; higher-priority jobs are placed first.
  priority = 50

  # Roll out new versions one allocation at a time, each healthy for 10s.
  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  # A group's tasks are placed together on one node.
  group "web" {
    # How many copies of the group to run.
    count = 1

    network {
      # A dynamic host port mapped to port 80 in the container.
      port "http" {
        to = 80
      }
    }

    # Restart a failed task in place: at most 2 times in 30 minutes.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    task "nginx" {
      driver = "docker"

      config {
        image = "nginx:1.25-alpine"
        ports = ["http"]
      }

      env {
        NGINX_ENTRYPOINT_QUIET_LOGS = "1"
      }

      # What placement reserves: MHz of CPU and MiB of memory.
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
