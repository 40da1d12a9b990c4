output "function_app_name" {
  description = "Function app (scripts/deploy.sh publishes to its staging slot and swaps)"
  value       = azurerm_linux_function_app.this.name
}

output "default_hostname" {
  description = "Generated host name (point the domain's CNAME here)"
  value       = azurerm_linux_function_app.this.default_hostname
}
