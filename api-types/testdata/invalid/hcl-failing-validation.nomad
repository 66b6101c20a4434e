variable "replicas" {
  type    = number
  default = 0

  validation {
    condition     = var.replicas >= 1
    error_message = "replicas must be at least 1."
  }
}

job "web" {
  group "api" {
    count = var.replicas

    task "api" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }
    }
  }
}
