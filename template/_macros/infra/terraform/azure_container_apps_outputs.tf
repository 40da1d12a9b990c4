output "app_name" {
  description = "Container App of the web process"
  value       = azurerm_container_app.web.name
}

output "default_fqdn" {
  description = "Generated host name (point the domain's CNAME here, then bind it)"
  value       = azurerm_container_app.web.ingress[0].fqdn
}

output "identity_client_id" {
  description = "Client id of the application's managed identity"
  value       = azurerm_user_assigned_identity.app.client_id
}
