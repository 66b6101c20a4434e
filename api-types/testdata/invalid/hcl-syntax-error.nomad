job "web" {
  datacenters = ["dc1"]

  group "web" {
    count =

    task "web" {
      driver = "docker"
    }
  }
}
