{%- from 'template/_macros/infra/terraform/blocks.jinja' import log_analytics with context -%}
{%- set i = infra() -%}
# Azure AKS: Entra ID RBAC without local accounts, Azure CNI overlay with Cilium network policies,
# OIDC issuer + workload identity, Azure Policy, an autoscaling user node pool; External Secrets
# reads only this environment's Key Vault through a federated identity.
data "azurerm_client_config" "current" {}

{{ log_analytics() }}

resource "azurerm_kubernetes_cluster" "this" {
  name                      = var.name
  location                  = var.location
  resource_group_name       = var.resource_group_name
  dns_prefix                = var.name
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = var.environment == "production" ? "Standard" : "Free"
  local_account_disabled    = true
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  azure_policy_enabled      = true
  automatic_upgrade_channel = "patch"

  default_node_pool {
    name                         = "system"
    vm_size                      = var.node_size
    node_count                   = 1
    only_critical_addons_enabled = true
    os_disk_type                 = "Ephemeral"
    host_encryption_enabled      = true
    max_pods                     = 50
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
    tenant_id          = data.azurerm_client_config.current.tenant_id
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
  }

  lifecycle {
    ignore_changes = [default_node_pool[0].node_count]
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "app" {
  name                  = "app"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  vm_size               = var.node_size
  auto_scaling_enabled  = true
  min_count             = var.min_nodes
  max_count             = var.max_nodes
  os_disk_type          = "Ephemeral"
  host_encryption_enabled = true
  max_pods              = 50
}

resource "azurerm_user_assigned_identity" "external_secrets" {
  name                = "${var.name}-external-secrets"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_federated_identity_credential" "external_secrets" {
  name                = "external-secrets"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.external_secrets.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:{{ i.slug }}-${var.environment}:{{ i.slug }}-secrets"
}

resource "azurerm_role_assignment" "external_secrets" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.external_secrets.principal_id
}
