output "workload_identity_provider" {
  description = "Full provider name (GCP_WORKLOAD_IDENTITY_PROVIDER)"
  value       = google_iam_workload_identity_pool_provider.ci.name
}

output "service_account_email" {
  description = "Service account CI impersonates (GCP_SERVICE_ACCOUNT)"
  value       = google_service_account.deployer.email
}
