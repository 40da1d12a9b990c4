output "cluster_name" {
  description = "AKS cluster (az aks get-credentials --name <this>)"
  value       = azurerm_kubernetes_cluster.this.name
}

output "external_secrets_client_id" {
  description = "Annotate the SecretStore's service account with azure.workload.identity/client-id=<this>"
  value       = azurerm_user_assigned_identity.external_secrets.client_id
}
