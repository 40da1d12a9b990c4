output "client_id" {
  description = "Client id CI logs in with (AZURE_CLIENT_ID)"
  value       = azurerm_user_assigned_identity.ci.client_id
}

output "tenant_id" {
  description = "Entra ID tenant (AZURE_TENANT_ID)"
  value       = azurerm_user_assigned_identity.ci.tenant_id
}
