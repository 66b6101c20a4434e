job "web" {
  datacenters = ["dc1"]

  group "api" {
    count = "three"

    task "api" {
      driver       = "docker"
      kill_timeout = "5 seconds"

      config {
        image = "nginx:1.25"
      }
    }
  }
}
