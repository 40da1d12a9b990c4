{%- from 'template/_macros/infra/terraform/blocks.jinja' import cloud_run_env with context -%}
{%- set i = infra() -%}
# Cloud Run: a runtime service account reading only this environment's secrets, the public web
# service with probes and autoscaling{% if has_worker %}, an internal always-on worker service{% endif %}, and the domain mapping.
resource "google_service_account" "runtime" {
  account_id   = substr("${var.name}-run", 0, 30)
  display_name = "${var.name} runtime"
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each  = var.secret_ids
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_project_iam_member" "cloudsql" {
  count   = var.cloudsql_connection == "" ? 0 : 1
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_cloud_run_v2_service" "web" {
  name                = "${var.name}-web"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account                  = google_service_account.runtime.email
    max_instance_request_concurrency = 80
{%- if graceful_shutdown %}
    timeout                          = "{{ [shutdown_timeout_seconds, 300] | max }}s"
{%- endif %}

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image

      ports {
        container_port = var.port
      }

      resources {
        limits = {
          cpu    = "${var.cpu}m"
          memory = "${var.memory}Mi"
        }
      }

{{ cloud_run_env() }}

      startup_probe {
        http_get {
          path = var.health_path
        }
        period_seconds    = 5
        failure_threshold = 24
      }

      liveness_probe {
        http_get {
          path = var.liveness_path
        }
        period_seconds = 10
      }

      dynamic "volume_mounts" {
        for_each = var.cloudsql_connection == "" ? [] : [1]
        content {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }

    dynamic "volumes" {
      for_each = var.cloudsql_connection == "" ? [] : [1]
      content {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [var.cloudsql_connection]
        }
      }
    }
  }

  # scripts/deploy.sh rolls new revisions and shifts traffic (gcloud run deploy / update-traffic).
  lifecycle {
    ignore_changes = [template[0].containers[0].image, traffic, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime]
}

# The web service is public; the application authenticates its own users.
resource "google_cloud_run_v2_service_iam_member" "public" {
  name     = google_cloud_run_v2_service.web.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_domain_mapping" "web" {
  name     = var.host
  location = var.region

  metadata {
    namespace = var.project_id
  }

  spec {
    route_name = google_cloud_run_v2_service.web.name
  }
}

resource "google_cloud_run_v2_service" "worker" {
  count               = length(var.worker_command) > 0 ? 1 : 0
  name                = "${var.name}-worker"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false

  template {
    service_account = google_service_account.runtime.email

    scaling {
      min_instance_count = 1
      max_instance_count = var.max_instances
    }

    containers {
      image   = var.image
      command = var.worker_command

      resources {
        cpu_idle = false
        limits = {
          cpu    = "${var.cpu}m"
          memory = "${var.memory}Mi"
        }
      }

{{ cloud_run_env() }}
    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime]
}
