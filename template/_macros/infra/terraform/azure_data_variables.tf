variable "name" {
  description = "Name prefix of every resource"
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the environment"
  type        = string
}

variable "location" {
  description = "Azure region"
  type        = string
}

variable "key_vault_name" {
  description = "Key Vault name (3-24 characters)"
  type        = string
}

variable "secret_names" {
  description = "Secret environment variables the application reads from Key Vault"
  type        = list(string)
}

variable "database_engine" {
  description = "postgresql, mysql, mongodb or none"
  type        = string
}

variable "cache" {
  description = "Create an Azure Cache for Redis"
  type        = bool
}

variable "database_sku" {
  description = "Flexible server SKU"
  type        = string
}

variable "high_availability" {
  description = "Zone-redundant database, standard-tier cache"
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of automated backups (flexible servers keep 7 to 35)"
  type        = number
}
