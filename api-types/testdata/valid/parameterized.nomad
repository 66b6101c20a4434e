# A dispatchable job: each dispatch sends an e-mail whose body is the payload.
job "send-email" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["recipient", "subject"]
    meta_optional = ["priority"]
  }

  group "mailer" {
    task "send" {
      driver = "docker"

      dispatch_payload {
        file = "body.txt"
      }

      config {
        image = "ghcr.io/example/mailer:1.3.0"
        args  = ["--to", "${NOMAD_META_recipient}", "--subject", "${NOMAD_META_subject}", "--body", "/local/body.txt"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
