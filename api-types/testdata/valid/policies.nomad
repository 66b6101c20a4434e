# Rolling updates with canaries, and the restart, reschedule, migrate and
# disconnect policies, set at job level and overridden per group.
job "payments" {
  datacenters = ["dc1"]
  region      = "europe"
  namespace   = "finance"
  priority    = 80
  all_at_once = false

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "5m"
    progress_deadline = "15m"
    auto_revert       = true
    auto_promote      = false
    canary            = 1
    stagger           = "30s"
  }

  migrate {
    max_parallel     = 1
    health_check     = "task_states"
    min_healthy_time = "20s"
    healthy_deadline = "4m"
  }

  reschedule {
    delay          = "1m"
    delay_function = "fibonacci"
    max_delay      = "30m"
    unlimited      = true
  }

  group "api" {
    count          = 6
    shutdown_delay = "10s"

    update {
      canary       = 2
      auto_promote = true
    }

    restart {
      attempts         = 5
      interval         = "10m"
      delay            = "20s"
      mode             = "delay"
      render_templates = true
    }

    reschedule {
      attempts  = 3
      interval  = "2h"
      unlimited = false
    }

    disconnect {
      lost_after = "1h"
      replace    = true
      reconcile  = "keep_original"
    }

    meta = {
      pci = "true"
    }

    task "api" {
      driver = "docker"

      config {
        image = "registry.example.com/payments-api:7.4.2"
      }

      restart {
        attempts = 1
      }

      resources {
        cpu    = 800
        memory = 512
      }
    }
  }
}
