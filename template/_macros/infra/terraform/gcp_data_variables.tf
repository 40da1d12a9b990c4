variable "name" {
  description = "Name prefix of every resource"
  type        = string
}

variable "environment" {
  description = "Environment name"
  type        = string
}

variable "region" {
  description = "Google Cloud region"
  type        = string
}

variable "secret_names" {
  description = "Secret environment variables of the application"
  type        = list(string)
}

variable "database_engine" {
  description = "postgresql, mysql or none (MongoDB runs on MongoDB Atlas, outside Terraform)"
  type        = string
}

variable "cache" {
  description = "Create a Memorystore Redis instance"
  type        = bool
}

variable "database_tier" {
  description = "Cloud SQL machine tier"
  type        = string
}

variable "high_availability" {
  description = "Regional database and standard-tier cache"
  type        = bool
}

variable "backup_retention_days" {
  description = "Daily backups kept"
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the database"
  type        = bool
}
