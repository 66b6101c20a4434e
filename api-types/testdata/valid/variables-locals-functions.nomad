# A web frontend whose image, size and placement come from variables, with
# locals derived from them through the function library.
variable "image" {
  type        = string
  default     = "nginx"
  description = "Image repository to run"
}

variable "tag" {
  type    = string
  default = "1.25.3"
}

variable "replicas" {
  type    = number
  default = 3

  validation {
    condition     = var.replicas > 0 && var.replicas <= 10
    error_message = "Replicas must be between 1 and 10."
  }
}

variable "datacenters" {
  type    = list(string)
  default = ["eu-west-1a", "eu-west-1b"]
}

variable "labels" {
  type = map(string)
  default = {
    team = "frontend"
    tier = "edge"
  }
}

variable "debug" {
  type    = bool
  default = false
}

locals {
  image      = "${var.image}:${var.tag}"
  name       = lower(format("%s-%s", "Web", var.labels["tier"]))
  dc_list    = join(",", var.datacenters)
  memory     = var.debug ? 512 : max(128, 64 * 2)
  extra_tags = [for dc in var.datacenters : "dc-${trimprefix(dc, "eu-west-")}"]
  all_tags   = concat(["web", local.name], local.extra_tags)
  env_upper  = { for k, v in var.labels : upper(k) => title(v) }
}

job "web-frontend" {
  datacenters = var.datacenters
  type        = "service"
  meta = merge(var.labels, {
    image      = local.image
    dcs        = local.dc_list
    tag_count  = tostring(length(local.all_tags))
    major      = element(split(".", var.tag), 0)
    encoded    = base64encode("v=${var.tag}")
    json_label = jsonencode(keys(var.labels))
  })

  group "web" {
    count = var.replicas

    network {
      port "http" {
        to = 80
      }
    }

    service {
      name = local.name
      port = "http"
      tags = distinct(local.all_tags)
    }

    task "nginx" {
      driver = "docker"

      config {
        image = local.image
        ports = ["http"]
        args  = compact(["-g", var.debug ? "debug" : "", "daemon off;"])
      }

      env {
        TEAM       = local.env_upper["TEAM"]
        ALLOC      = "web-${NOMAD_ALLOC_INDEX}"
        REPLICAS   = var.replicas
        NODE_CLASS = "${node.class}"
      }

      resources {
        cpu    = 200
        memory = local.memory
      }
    }
  }
}
