variable "image" {
  type        = string
  description = "The image to deploy; there is no sensible default."
}

job "web" {
  group "api" {
    task "api" {
      driver = "docker"

      config {
        image = var.image
      }
    }
  }
}
