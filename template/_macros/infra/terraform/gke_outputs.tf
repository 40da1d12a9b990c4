output "cluster_name" {
  description = "GKE cluster (gcloud container clusters get-credentials <this>)"
  value       = google_container_cluster.this.name
}

output "external_secrets_service_account" {
  description = "Annotate the SecretStore's service account with iam.gke.io/gcp-service-account=<this>"
  value       = google_service_account.external_secrets.email
}
