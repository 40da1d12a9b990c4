{%- from 'template/_macros/infra/terraform/blocks.jinja' import log_analytics, container_app_secrets, container_app_env with context -%}
{%- set i = infra() -%}
# Azure Container Apps: a managed environment with Log Analytics, a user-assigned identity that
# reads this environment's Key Vault secrets, the web app (multiple revisions for traffic
# splitting) with probes and CPU autoscaling{% if has_worker %}, and the worker app without ingress{% endif %}.
locals {
  secret_names = {{ to_json(i.secret_names) }}
}

data "azurerm_key_vault" "this" {
  name                = split("/", var.key_vault_id)[8]
  resource_group_name = var.resource_group_name
}

{{ log_analytics() }}

resource "azurerm_container_app_environment" "this" {
  name                       = var.name
  location                   = var.location
  resource_group_name        = var.resource_group_name
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
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

resource "azurerm_container_app" "web" {
  name                         = "${var.name}-web"
  container_app_environment_id = azurerm_container_app_environment.this.id
  resource_group_name          = var.resource_group_name
  revision_mode                = "Multiple"

{{ container_app_secrets() }}

  ingress {
    external_enabled = true
    target_port      = var.port
    transport        = "auto"

    traffic_weight {
      latest_revision = true
      percentage      = 100
    }
  }

  template {
    min_replicas = var.min_instances
    max_replicas = var.max_instances

    container {
      name   = "web"
      image  = var.image
      cpu    = var.cpu / 1000
      memory = "${var.memory / 1024}Gi"

{{ container_app_env() }}

      readiness_probe {
        transport = "HTTP"
        port      = var.port
        path      = var.health_path
      }

      liveness_probe {
        transport = "HTTP"
        port      = var.port
        path      = var.liveness_path
      }
    }

    custom_scale_rule {
      name             = "cpu"
      custom_rule_type = "cpu"
      metadata = {
        type  = "Utilization"
        value = tostring(var.cpu_target)
      }
    }
  }

  # scripts/deploy.sh creates revisions and moves traffic (az containerapp update / ingress traffic set).
  lifecycle {
    ignore_changes = [template[0].container[0].image, ingress[0].traffic_weight]
  }

  depends_on = [azurerm_role_assignment.secrets]
}

resource "azurerm_container_app" "worker" {
  count                        = length(var.worker_command) > 0 ? 1 : 0
  name                         = "${var.name}-worker"
  container_app_environment_id = azurerm_container_app_environment.this.id
  resource_group_name          = var.resource_group_name
  revision_mode                = "Single"

{{ container_app_secrets() }}

  template {
    min_replicas = 1
    max_replicas = var.max_instances

    container {
      name    = "worker"
      image   = var.image
      command = var.worker_command
      cpu     = var.cpu / 1000
      memory  = "${var.memory / 1024}Gi"

{{ container_app_env() }}
    }
  }

  lifecycle {
    ignore_changes = [template[0].container[0].image]
  }

  depends_on = [azurerm_role_assignment.secrets]
}
