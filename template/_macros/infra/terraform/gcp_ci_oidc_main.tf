{%- set i = infra() -%}
{%- set plan = pipeline().plan_identity -%}
{%- set audience = i.fact('ci_platform', 'oidc_audience', '') -%}
# The CI's federated identities: a workload identity pool trusts the CI's OIDC tokens for this environment's
# deploy subjects, which may impersonate the deployer service account{% if plan %}; a second pool trusts the
# pull-request plan jobs' subjects, which may impersonate the read-only planner{% endif %}. No key file exists.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_iam_workload_identity_pool" "ci" {
  workload_identity_pool_id = substr("ci-${var.name}", 0, 32)
  display_name              = substr("CI ${var.name}", 0, 32)
}

locals {
  # A subject with * (a CI whose token subject names a branch pattern or a user) is matched as an RE2
  # pattern, * standing for one path segment; any other subject must match exactly.
  subject_conditions = [for s in var.subjects : strcontains(s, "*") ? "assertion.sub.matches(r'^${replace(replace(s, ".", "\\."), "*", "[^/]*")}$')" : "assertion.sub == \"${s}\""]
{%- if i.circleci_context %}
  # CircleCI: the token must also come from a job that uses this environment's context (restrict the context
  # to the deploy branches in CircleCI's organization settings).
  deploy_condition = "(${join(" || ", local.subject_conditions)}) && '${var.deploy_context_id}' in assertion['oidc.circleci.com/context-ids']"
{%- else %}
  deploy_condition = join(" || ", local.subject_conditions)
{%- endif %}
{%- if plan %}
  # Plan subjects: * also spans "/" (branch names such as feature/x); the planner cannot change anything.
  plan_conditions = [for s in var.plan_subjects : strcontains(s, "*") ? "assertion.sub.matches(r'^${replace(replace(s, ".", "\\."), "*", ".*")}$')" : "assertion.sub == \"${s}\""]
{%- endif %}
}

resource "google_iam_workload_identity_pool_provider" "ci" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.ci.workload_identity_pool_id
  workload_identity_pool_provider_id = "ci"
  attribute_mapping = {
    "google.subject" = "assertion.sub"
  }
  attribute_condition = local.deploy_condition

  oidc {
    issuer_uri = var.issuer_url
{%- if audience %}
    # the CI's tokens always carry this audience (otherwise: the provider's resource name, the default)
    allowed_audiences = ["{{ audience }}"]
{%- endif %}
  }
}

resource "google_service_account" "deployer" {
  account_id   = substr("${var.name}-deploy", 0, 30)
  display_name = "CI deployer of ${var.name}"
}

resource "google_service_account_iam_member" "ci" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  # the pool has one provider, whose attribute_condition admits only this environment's deploy subjects
  member = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.ci.name}/*"
}

# The deploy job runs terraform apply first: it refreshes and changes every resource of this environment's stack.
# One predefined admin role per service the stack uses (Cloud Run, Cloud SQL, Memorystore, Secret Manager, GKE and
# its network, monitoring), the service accounts and their IAM, the CI's own workload identity pools, and the project
# IAM bindings the stack grants (projectIamAdmin: the runtime and node service accounts' roles, these bindings).
# projectIamAdmin can grant any role in the project: give each environment its own project (docs/infrastructure.md,
# "CI identities"). Images are pushed to Artifact Registry; Terraform state is read and written (bucket below).
resource "google_project_iam_member" "deployer" {
  # checkov:skip=CKV_GCP_42:terraform apply creates this environment's resources and their IAM: admin roles of the stack's services, one project per environment
  for_each = toset([
    "roles/run.admin", "roles/cloudsql.admin", "roles/redis.admin", "roles/secretmanager.admin", "roles/container.admin",
    "roles/compute.networkAdmin", "roles/monitoring.editor", "roles/logging.configWriter", "roles/serviceusage.serviceUsageConsumer",
    "roles/artifactregistry.writer", "roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser",
    "roles/iam.workloadIdentityPoolAdmin", "roles/resourcemanager.projectIamAdmin",
    # reads every IAM policy terraform refreshes, the state bucket's bindings included
    "roles/iam.securityReviewer",
  ])
  project = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_storage_bucket_iam_member" "state" {
  bucket = "{{ i.slug }}-tfstate"
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.deployer.email}"
}
{%- if plan %}

# The pull-request plan jobs' identity: its own pool (the deployer's binding admits its whole pool), viewer of
# the project, reader of the state, and writer of the lock objects only (the GCS backend creates <prefix>/<workspace>.tflock).
resource "google_iam_workload_identity_pool" "plan" {
  workload_identity_pool_id = substr("ci-plan-${var.name}", 0, 32)
  display_name              = substr("CI plan ${var.name}", 0, 32)
}

resource "google_iam_workload_identity_pool_provider" "plan" {
  workload_identity_pool_id          = google_iam_workload_identity_pool.plan.workload_identity_pool_id
  workload_identity_pool_provider_id = "ci"
  attribute_mapping = {
    "google.subject" = "assertion.sub"
  }
  attribute_condition = join(" || ", local.plan_conditions)

  oidc {
    issuer_uri = var.issuer_url
{%- if audience %}
    allowed_audiences = ["{{ audience }}"]
{%- endif %}
  }
}

resource "google_service_account" "plan" {
  account_id   = substr("${var.name}-plan", 0, 30)
  display_name = "CI planner of ${var.name} (read-only)"
}

resource "google_service_account_iam_member" "plan" {
  service_account_id = google_service_account.plan.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.plan.name}/*"
}

resource "google_project_iam_member" "plan" {
  # checkov:skip=CKV_GCP_117:terraform plan refreshes every resource type of the project: viewer is the read-only role that covers them all
  project = var.project_id
  role    = "roles/viewer"
  member  = "serviceAccount:${google_service_account.plan.email}"
}

resource "google_storage_bucket_iam_member" "plan_state" {
  bucket = "{{ i.slug }}-tfstate"
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.plan.email}"
}

resource "google_storage_bucket_iam_member" "plan_lock" {
  bucket = "{{ i.slug }}-tfstate"
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.plan.email}"

  condition {
    title       = "state-lock-objects"
    description = "Only the Terraform lock objects: terraform plan takes and releases the state lock"
    expression  = "resource.name.endsWith('.tflock')"
  }
}
{%- endif %}
