output "workload_identity_provider" {
  description = "Full provider name (GCP_WORKLOAD_IDENTITY_PROVIDER)"
  value       = google_iam_workload_identity_pool_provider.ci.name
}

output "service_account_email" {
  description = "Service account CI impersonates (GCP_SERVICE_ACCOUNT)"
  value       = google_service_account.deployer.email
}
{%- if pipeline().plan_identity %}

output "plan_workload_identity_provider" {
  description = "Provider of the pull-request plan jobs (GCP_PLAN_WORKLOAD_IDENTITY_PROVIDER)"
  value       = google_iam_workload_identity_pool_provider.plan.name
}

output "plan_service_account_email" {
  description = "Read-only service account the plan jobs impersonate (GCP_PLAN_SERVICE_ACCOUNT)"
  value       = google_service_account.plan.email
}
{%- endif %}
