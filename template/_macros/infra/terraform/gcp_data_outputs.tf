output "secret_ids" {
  description = "Secret Manager secret ids by variable name"
  value       = { for key, secret in google_secret_manager_secret.app : key => secret.secret_id }
}

output "database_connection_name" {
  description = "Cloud SQL connection name (empty without Cloud SQL)"
  value       = one(google_sql_database_instance.this[*].connection_name) == null ? "" : one(google_sql_database_instance.this[*].connection_name)
}

output "cache_host" {
  description = "Memorystore host (empty without a cache)"
  value       = one(google_redis_instance.this[*].host)
}
