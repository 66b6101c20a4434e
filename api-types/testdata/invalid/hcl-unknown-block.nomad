job "web" {
  datacenters = ["dc1"]

  group "api" {
    tsk "api" {
      driver = "docker"
    }
  }
}
