# A sysbatch job: prune Docker images once on every node, then exit.
job "docker-prune" {
  datacenters = ["dc1", "dc2"]
  type        = "sysbatch"

  group "prune" {
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "prune" {
      driver = "docker"
      user   = "root"

      config {
        image   = "docker:25-cli"
        command = "docker"
        args    = ["image", "prune", "--all", "--force", "--filter", "until=168h"]
        volumes = ["/var/run/docker.sock:/var/run/docker.sock"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
