variable "name" {
  description = "Name prefix of every resource"
  type        = string
}

variable "secret_name" {
  description = "Secrets Manager name of the application's secret environment variables"
  type        = string
}

variable "vpc_id" {
  description = "VPC of the environment"
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the database and cache"
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks allowed to reach the database and cache"
  type        = list(string)
}

variable "database_engine" {
  description = "postgresql, mysql, mongodb or none"
  type        = string
}

variable "cache" {
  description = "Create a Redis replication group"
  type        = bool
}

variable "instance_class" {
  description = "Database instance class"
  type        = string
}

variable "cache_node_type" {
  description = "Cache node type"
  type        = string
}

variable "high_availability" {
  description = "Multi-AZ database and cache"
  type        = bool
}

variable "backup_retention_days" {
  description = "Days of automated backups (RDS keeps at most 35)"
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the database"
  type        = bool
}

variable "ephemeral" {
  description = "A preview stack destroyed with its pull request: no final snapshot, no AWS Backup plan, secret deleted at once"
  type        = bool
  default     = false
}
