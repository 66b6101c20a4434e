# Soft placement preferences: affinities and spreads across zones and racks.
job "api-spread" {
  datacenters = ["us-east-1a", "us-east-1b", "us-east-1c"]

  affinity {
    attribute = "${node.datacenter}"
    value     = "us-east-1a"
    weight    = 70
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "us-east-1a" {
      percent = 50
    }

    target "us-east-1b" {
      percent = 30
    }

    target "us-east-1c" {
      percent = 20
    }
  }

  group "api" {
    count = 10

    affinity {
      attribute = "${meta.instance_type}"
      operator  = "regexp"
      value     = "^m5\\."
      weight    = -50
    }

    affinity {
      attribute        = "${meta.features}"
      set_contains_any = "gpu,avx512"
    }

    spread {
      attribute = "${meta.rack}"
      weight    = 50
    }

    network {
      port "http" {}
    }

    task "api" {
      driver = "docker"

      affinity {
        attribute = "${attr.kernel.version}"
        operator  = "version"
        value     = ">= 6.0"
        weight    = 25
      }

      config {
        image = "ghcr.io/example/api:2.4.1"
        ports = ["http"]
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
