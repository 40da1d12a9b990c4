{%- from 'template/_macros/infra/terraform/blocks.jinja' import log_analytics with context -%}
{%- set i = infra() -%}
{%- set worker = catalog.fact('app_language', app_language, 'functions_runtime') -%}
{%- set version = catalog.fact('app_language', app_language, 'functions_version') -%}
# Azure Functions (Linux, Premium plan for VNet-free always-ready instances): storage with the
# managed identity, Application Insights, Key Vault references for secrets, the custom domain.
locals {
  # Key Vault references: the platform resolves them with the app's identity; no value is stored here.
  secret_settings = { for name in {{ to_json(i.secret_names) }} : name => "@Microsoft.KeyVault(SecretUri=${data.azurerm_key_vault.this.vault_uri}secrets/${var.environment}-${lower(replace(name, "_", "-"))})" }
}

resource "azurerm_storage_account" "this" {
  name                            = substr(replace("${var.name}fn", "-", ""), 0, 24)
  resource_group_name             = var.resource_group_name
  location                        = var.location
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  https_traffic_only_enabled      = true

  blob_properties {
    delete_retention_policy {
      days = 7
    }
  }
}

{{ log_analytics() }}

resource "azurerm_application_insights" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "web"
}

resource "azurerm_service_plan" "this" {
  name                   = var.name
  location               = var.location
  resource_group_name    = var.resource_group_name
  os_type                = "Linux"
  sku_name               = "EP1"
  zone_balancing_enabled = false
}

resource "azurerm_user_assigned_identity" "app" {
  name                = "${var.name}-app"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_role_assignment" "secrets" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
}

resource "azurerm_role_assignment" "storage" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
}

data "azurerm_key_vault" "this" {
  name                = split("/", var.key_vault_id)[8]
  resource_group_name = var.resource_group_name
}

resource "azurerm_linux_function_app" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  service_plan_id               = azurerm_service_plan.this.id
  storage_account_name          = azurerm_storage_account.this.name
  storage_uses_managed_identity = true
  https_only                    = true
  public_network_access_enabled = true
  key_vault_reference_identity_id = azurerm_user_assigned_identity.app.id

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  site_config {
    minimum_tls_version                    = "1.2"
    http2_enabled                          = true
    ftps_state                             = "Disabled"
    health_check_path                      = var.health_path
    health_check_eviction_time_in_min      = 5
    elastic_instance_minimum               = var.min_instances
    app_scale_limit                        = var.max_instances
    application_insights_connection_string = azurerm_application_insights.this.connection_string

    application_stack {
{%- if worker == 'dotnet-isolated' %}
      dotnet_version              = "{{ version }}"
      use_dotnet_isolated_runtime = true
{%- elif worker == 'custom' %}
      use_custom_runtime = true
{%- else %}
      {{ worker }}_version = "{{ version }}"
{%- endif %}
    }
  }

  app_settings = merge({ APP_ENV = var.environment }, local.secret_settings)

  # scripts/deploy.sh publishes code to the staging slot and swaps it in.
  lifecycle {
    ignore_changes = [app_settings["WEBSITE_RUN_FROM_PACKAGE"]]
  }
}

resource "azurerm_linux_function_app_slot" "staging" {
  name                          = "staging"
  function_app_id               = azurerm_linux_function_app.this.id
  storage_account_name          = azurerm_storage_account.this.name
  storage_uses_managed_identity = true
  https_only                    = true
  public_network_access_enabled = true

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  site_config {
    minimum_tls_version = "1.2"
    ftps_state          = "Disabled"
    health_check_path   = var.health_path
    health_check_eviction_time_in_min = 5
  }
}

resource "azurerm_app_service_custom_hostname_binding" "this" {
  hostname            = var.host
  app_service_name    = azurerm_linux_function_app.this.name
  resource_group_name = var.resource_group_name
}
