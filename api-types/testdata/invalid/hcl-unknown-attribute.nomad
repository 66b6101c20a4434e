job "web" {
  datacenters = ["dc1"]

  group "api" {
    task "api" {
      drivr = "docker"

      config {
        image = "nginx:1.25"
      }
    }
  }
}
