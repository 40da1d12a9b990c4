output "key_vault_id" {
  description = "Key Vault of the environment"
  value       = azurerm_key_vault.this.id
}

output "key_vault_uri" {
  description = "Key Vault URI (AZURE_KEY_VAULT_URL)"
  value       = azurerm_key_vault.this.vault_uri
}

output "secret_names" {
  description = "Key Vault secret names the application expects, by variable"
  value       = { for name in var.secret_names : name => lower(replace(name, "_", "-")) }
}
