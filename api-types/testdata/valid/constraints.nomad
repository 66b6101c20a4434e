# Placement rules with every constraint operator Nomad knows.
job "placement-rules" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = attr.cpu.arch
    operator  = "=="
    value     = "amd64"
  }

  constraint {
    attribute = "${node.class}"
    operator  = "!="
    value     = "batch"
  }

  constraint {
    distinct_hosts = true
  }

  group "db" {
    count = 3

    constraint {
      attribute = "${meta.rack}"
      operator  = "distinct_property"
      value     = "1"
    }

    constraint {
      distinct_property = "${node.datacenter}"
      value             = "2"
    }

    constraint {
      attribute = "${attr.unique.storage.bytesfree}"
      operator  = ">="
      value     = "10000000000"
    }

    constraint {
      attribute = "${attr.memory.totalbytes}"
      operator  = ">"
      value     = "4000000000"
    }

    constraint {
      attribute = "${attr.cpu.numcores}"
      operator  = "<"
      value     = "64"
    }

    constraint {
      attribute = "${attr.cpu.totalcompute}"
      operator  = "<="
      value     = "100000"
    }

    constraint {
      attribute = "${attr.os.name}"
      regexp    = "^(ubuntu|debian)$"
    }

    constraint {
      attribute = "${attr.driver.docker.version}"
      operator  = "version"
      value     = ">= 20.10"
    }

    constraint {
      attribute = "${attr.kernel.version}"
      semver    = ">= 5.4.0"
    }

    constraint {
      attribute = "${meta.features}"
      operator  = "set_contains"
      value     = "ssd,ecc"
    }

    constraint {
      attribute = "${meta.zones}"
      operator  = "set_contains_any"
      value     = "a,b"
    }

    constraint {
      attribute = "${meta.maintenance}"
      operator  = "is_not_set"
    }

    constraint {
      attribute = "${meta.storage_tier}"
      operator  = "is_set"
    }

    task "postgres" {
      driver = "docker"

      constraint {
        attribute = "${attr.os.signals}"
        operator  = "set_contains_all"
        value     = "SIGHUP,SIGTERM"
      }

      constraint {
        attribute = "${node.unique.name}"
        operator  = "regexp"
        value     = "^db-"
      }

      config {
        image = "postgres:16"
      }

      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
