# The environment's state: one Secret Manager secret per secret variable (values added outside
# Terraform), Cloud SQL with point-in-time recovery, Memorystore for Redis.
locals {
  sql      = contains(["postgresql", "mysql"], var.database_engine)
}

resource "google_secret_manager_secret" "app" {
  for_each  = toset(var.secret_names)
  secret_id = "${var.name}-${lower(replace(each.value, "_", "-"))}"

  labels = {
    variable = lower(each.value)
  }

  replication {
    auto {}
  }
}

resource "google_sql_database_instance" "this" {
  count               = local.sql ? 1 : 0
  name                = var.name
  region              = var.region
  database_version    = "{{ 'POSTGRES_17' if database == 'postgresql' else 'MYSQL_8_4' }}"
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.database_tier
    edition           = "ENTERPRISE"
    availability_type = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_autoresize   = true
    disk_type         = "PD_SSD"

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
{%- if database == 'postgresql' %}
      point_in_time_recovery_enabled = true
{%- else %}
      binary_log_enabled             = true
{%- endif %}
      transaction_log_retention_days = min(var.backup_retention_days, 7)

      backup_retention_settings {
        retained_backups = var.backup_retention_days
        retention_unit   = "COUNT"
      }
    }

    # Reached through the Cloud SQL connector (IAM-authenticated, encrypted); no network is authorised.
    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

{%- set flags = {'postgresql': [('cloudsql.iam_authentication', 'on'), ('cloudsql.enable_pgaudit', 'on'), ('log_checkpoints', 'on'), ('log_connections', 'on'), ('log_disconnections', 'on'), ('log_duration', 'on'), ('log_hostname', 'on'), ('log_lock_waits', 'on'), ('log_min_error_statement', 'error'), ('log_min_messages', 'error'), ('log_statement', 'ddl'), ('log_temp_files', '0')], 'mysql': [('cloudsql_iam_authentication', 'on'), ('local_infile', 'off'), ('skip_show_database', 'on'), ('slow_query_log', 'on'), ('long_query_time', '1')]}.get(database, []) %}
{%- for name, value in flags %}

    database_flags {
      name  = "{{ name }}"
      value = "{{ value }}"
    }
{%- endfor %}

    insights_config {
      query_insights_enabled = true
    }
  }
}

resource "google_sql_database" "this" {
  count    = local.sql ? 1 : 0
  name     = replace(var.name, "-", "_")
  instance = google_sql_database_instance.this[0].name
}

resource "google_redis_instance" "this" {
  count                   = var.cache ? 1 : 0
  name                    = var.name
  region                  = var.region
  tier                    = var.high_availability ? "STANDARD_HA" : "BASIC"
  memory_size_gb          = var.high_availability ? 5 : 1
  redis_version           = "REDIS_7_2"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
}
