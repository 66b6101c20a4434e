job "web" {
  group "web" {
    task "web" {
      driver = "docker"
    }
  }
}

job "worker" {
  group "worker" {
    task "worker" {
      driver = "docker"
    }
  }
}
