job "web" {
  id   = "web-2"
  type = "servce"

  group "web" {
    task "web" {
      driver = "docker"
    }
  }
}
