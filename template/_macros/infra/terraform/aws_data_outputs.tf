output "secret_arn" {
  description = "ARN of the application's secret"
  value       = aws_secretsmanager_secret.app.arn
}

output "kms_key_arn" {
  description = "KMS key of the environment's secrets and data"
  value       = aws_kms_key.this.arn
}

output "database_endpoint" {
  description = "Database host name (empty without a database)"
  value       = one(concat(aws_db_instance.this[*].address, aws_docdb_cluster.this[*].endpoint))
}

output "cache_endpoint" {
  description = "Redis primary endpoint (empty without a cache)"
  value       = one(aws_elasticache_replication_group.this[*].primary_endpoint_address)
}
