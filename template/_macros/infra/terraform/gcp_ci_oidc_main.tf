{%- set i = infra() -%}
# The CI's federated identity: a workload identity pool trusts the CI's OIDC tokens for one
# subject, which may impersonate the deployer service account. No key file exists.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_iam_workload_identity_pool" "ci" {
  workload_identity_pool_id = substr("ci-${var.name}", 0, 32)
  display_name              = substr("CI ${var.name}", 0, 32)
}

resource "google_iam_workload_identity_pool_provider" "ci" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci.workload_identity_pool_id
  workload_identity_pool_provider_id = "ci"
  attribute_mapping = {
    "google.subject" = "assertion.sub"
  }
  attribute_condition = "assertion.sub == \"${var.subject}\""

  oidc {
    issuer_uri = var.issuer_url
  }
}

resource "google_service_account" "deployer" {
  account_id   = substr("${var.name}-deploy", 0, 30)
  display_name = "CI deployer of ${var.name}"
}

resource "google_service_account_iam_member" "ci" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/subject/${var.subject}"
}

# Deploy revisions, push images, act as the runtime service account, read Terraform state.
resource "google_project_iam_member" "deployer" {
  for_each = toset(["roles/run.developer", "roles/artifactregistry.writer", "roles/iam.serviceAccountUser", "roles/container.developer"])
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "state" {
  bucket = "{{ i.slug }}-tfstate"
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deployer.email}"
}
