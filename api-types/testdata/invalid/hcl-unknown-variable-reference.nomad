variable "image_tag" {
  default = "1.25"
}

locals {
  image = "nginx:${var.imagetag}"
}

job "web" {
  group "web" {
    task "web" {
      driver = "docker"

      config {
        image = local.image
      }
    }
  }
}
