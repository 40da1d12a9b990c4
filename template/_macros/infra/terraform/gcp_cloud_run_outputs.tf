output "service_name" {
  description = "Cloud Run service of the web process"
  value       = google_cloud_run_v2_service.web.name
}

output "service_url" {
  description = "run.app URL of the web service"
  value       = google_cloud_run_v2_service.web.uri
}

output "runtime_service_account" {
  description = "Identity the containers run as"
  value       = google_service_account.runtime.email
}
