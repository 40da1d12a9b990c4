{%- set i = infra() -%}
# The environment's state: Key Vault (secrets are added outside Terraform), the database with
# Entra ID authentication and automated backups, and the cache.
data "azurerm_client_config" "current" {}

resource "azurerm_key_vault" "this" {
  name                       = var.key_vault_name
  location                   = var.location
  resource_group_name        = var.resource_group_name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow"
  }
}
{%- if database == 'postgresql' %}

resource "azurerm_postgresql_flexible_server" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = "16"
  sku_name                      = var.database_sku
  storage_mb                    = 32768
  auto_grow_enabled             = true
  backup_retention_days         = min(max(var.backup_retention_days, 7), 35)
  geo_redundant_backup_enabled  = var.high_availability
  public_network_access_enabled = true

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }

  dynamic "high_availability" {
    for_each = var.high_availability ? [1] : []
    content {
      mode = "ZoneRedundant"
    }
  }

  lifecycle {
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }
}

resource "azurerm_postgresql_flexible_server_database" "this" {
  name      = "{{ i.db_name }}"
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_configuration" "log_connections" {
  name      = "log_connections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

# Only Azure services (the Container Apps environment) reach the server; no other network is allowed.
resource "azurerm_postgresql_flexible_server_firewall_rule" "azure" {
  name             = "azure-services"
  server_id        = azurerm_postgresql_flexible_server.this.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}
{%- elif database == 'mysql' %}

resource "azurerm_mysql_flexible_server" "this" {
  name                         = var.name
  location                     = var.location
  resource_group_name          = var.resource_group_name
  version                      = "8.0.21"
  sku_name                     = var.database_sku
  backup_retention_days        = min(max(var.backup_retention_days, 1), 35)
  geo_redundant_backup_enabled = var.high_availability

  storage {
    auto_grow_enabled = true
    size_gb           = 32
  }

  dynamic "high_availability" {
    for_each = var.high_availability ? [1] : []
    content {
      mode = "ZoneRedundant"
    }
  }

  lifecycle {
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }
}

resource "azurerm_mysql_flexible_database" "this" {
  name                = "{{ i.db_name }}"
  resource_group_name = var.resource_group_name
  server_name         = azurerm_mysql_flexible_server.this.name
  charset             = "utf8mb4"
  collation           = "utf8mb4_unicode_ci"
}

resource "azurerm_mysql_flexible_server_configuration" "secure_transport" {
  name                = "require_secure_transport"
  resource_group_name = var.resource_group_name
  server_name         = azurerm_mysql_flexible_server.this.name
  value               = "ON"
}
{%- elif database == 'mongodb' %}

# MongoDB API: Azure Cosmos DB, continuous backup (point-in-time restore).
resource "azurerm_cosmosdb_account" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  offer_type                    = "Standard"
  kind                          = "MongoDB"
  mongo_server_version          = "7.0"
  local_authentication_enabled       = false
  access_key_metadata_writes_enabled = false
  public_network_access_enabled = true
  automatic_failover_enabled    = var.high_availability

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
    zone_redundant    = var.high_availability
  }

  backup {
    type = "Continuous"
    tier = var.backup_retention_days > 7 ? "Continuous30Days" : "Continuous7Days"
  }

  capabilities {
    name = "EnableMongo"
  }
}

resource "azurerm_cosmosdb_mongo_database" "this" {
  name                = "{{ i.db_name }}"
  resource_group_name = var.resource_group_name
  account_name        = azurerm_cosmosdb_account.this.name
}
{%- endif %}
{%- if cache == 'redis' %}

resource "azurerm_redis_cache" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  capacity                      = var.high_availability ? 1 : 0
  family                        = "C"
  sku_name                      = var.high_availability ? "Standard" : "Basic"
  minimum_tls_version           = "1.2"
  non_ssl_port_enabled          = false
  public_network_access_enabled = true
  redis_version                 = "6"
}
{%- endif %}
