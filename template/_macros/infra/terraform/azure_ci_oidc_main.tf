{%- set i = infra() -%}
{%- set plan = pipeline().plan_identity -%}
# The CI's federated identities: a user-assigned managed identity trusts the CI's OIDC tokens for this
# environment's deploy subjects (one federated credential per exact subject) and may change only this
# environment's resource group{% if plan %}; a second, read-only identity trusts the pull-request plan jobs{% endif %}.
# No client secret exists.
data "azurerm_client_config" "current" {}

locals {
  # The Terraform state container (backend.tf, created in "Bootstrap"): both identities hold the state lease.
  state_container_id = "/subscriptions/${data.azurerm_client_config.current.subscription_id}/resourceGroups/{{ i.slug }}-tfstate/providers/Microsoft.Storage/storageAccounts/{{ i.state_account }}/blobServices/default/containers/tfstate"
}

resource "azurerm_user_assigned_identity" "ci" {
  name                = "${var.name}-ci"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_federated_identity_credential" "ci" {
  for_each            = toset(var.subjects)
  name                = "ci-${substr(sha1(each.value), 0, 12)}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.ci.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.issuer_url
  subject             = each.value
}

resource "azurerm_role_assignment" "ci" {
  scope                = var.resource_group_id
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}

# The state backend uses Entra ID (use_azuread_auth): blob data access to the state container only.
resource "azurerm_role_assignment" "ci_state" {
  scope                = local.state_container_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}

# terraform apply also creates the role assignments of the stack (the apps' identities on Key Vault and storage, the
# CI identities): Role Based Access Control Administrator on the resource group, constrained to those roles; it
# cannot grant Owner, User Access Administrator or itself more (docs/infrastructure.md, "CI identities").
data "azurerm_role_definition" "stack" {
  for_each = toset(["Contributor", "Reader", "Key Vault Secrets User", "Storage Blob Data Owner"])
  name     = each.value
  scope    = var.resource_group_id
}

locals {
  stack_role_ids = join(", ", [for r in data.azurerm_role_definition.stack : r.role_definition_id])
}

resource "azurerm_role_assignment" "ci_rbac" {
  scope                = var.resource_group_id
  role_definition_name = "Role Based Access Control Administrator"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
  description          = "CI applies the stack's role assignments: only ${join(", ", keys(data.azurerm_role_definition.stack))}"
  condition_version    = "2.0"
  condition            = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.stack_role_ids}}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.stack_role_ids}}
     )
    )
  EOT
}

# terraform refreshes the state container's role assignments (ci_state above): reading them needs a control-plane role.
resource "azurerm_role_assignment" "ci_state_reader" {
  scope                = local.state_container_id
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}
{%- if plan %}

# The pull-request plan jobs' identity: Reader of the environment's resource group, and blob data access to
# the state container (terraform plan reads the state and takes its blob lease); it cannot change any resource.
resource "azurerm_user_assigned_identity" "plan" {
  name                = "${var.name}-ci-plan"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_federated_identity_credential" "plan" {
  for_each            = toset(var.plan_subjects)
  name                = "plan-${substr(sha1(each.value), 0, 12)}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.plan.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.issuer_url
  subject             = each.value
}

resource "azurerm_role_assignment" "plan" {
  scope                = var.resource_group_id
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.plan.principal_id
}

resource "azurerm_role_assignment" "plan_state" {
  scope                = local.state_container_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.plan.principal_id
}
{%- endif %}
{%- if i.oidc_preview_subjects %}

# The preview jobs' identity (created by the environment the root passes preview_subjects to): every preview creates
# its own resource group rg-{{ i.slug }}-pr-<number>, so it needs Contributor on the whole subscription, plus the role
# assignments the preview stack makes (its apps on Key Vault and storage, itself as Key Vault Secrets Officer of the
# preview's vault) and the preview workspaces' state blobs only. Give previews a subscription of their own
# (preview_subscription_id): Azure roles cannot be limited to resource names (docs/infrastructure.md, "CI identities").
locals {
  preview              = length(var.preview_subjects) > 0
  preview_subscription = "/subscriptions/${coalesce(var.preview_subscription_id, data.azurerm_client_config.current.subscription_id)}"
}

resource "azurerm_user_assigned_identity" "preview" {
  count               = local.preview ? 1 : 0
  name                = "${var.name}-ci-preview"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_federated_identity_credential" "preview" {
  for_each            = toset(var.preview_subjects)
  name                = "preview-${substr(sha1(each.value), 0, 12)}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.preview[0].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.issuer_url
  subject             = each.value
}

resource "azurerm_role_assignment" "preview" {
  count                = local.preview ? 1 : 0
  scope                = local.preview_subscription
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.preview[0].principal_id
}

data "azurerm_role_definition" "preview_stack" {
  for_each = local.preview ? toset(["Key Vault Secrets User", "Key Vault Secrets Officer", "Storage Blob Data Owner"]) : toset([])
  name     = each.value
  scope    = local.preview_subscription
}

locals {
  preview_role_ids = join(", ", [for r in data.azurerm_role_definition.preview_stack : r.role_definition_id])
}

resource "azurerm_role_assignment" "preview_rbac" {
  count                = local.preview ? 1 : 0
  scope                = local.preview_subscription
  role_definition_name = "Role Based Access Control Administrator"
  principal_id         = azurerm_user_assigned_identity.preview[0].principal_id
  description          = "Preview stacks assign only ${join(", ", keys(data.azurerm_role_definition.preview_stack))}"
  condition_version    = "2.0"
  condition            = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.preview_role_ids}}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.preview_role_ids}}
     )
    )
  EOT
}

# This environment's deploy jobs refresh the subscription-wide assignments above: its deploy identity reads them.
resource "azurerm_role_assignment" "ci_preview_reader" {
  count                = local.preview ? 1 : 0
  scope                = local.preview_subscription
  role_definition_name = "Reader"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}

# State: only the preview workspaces' blobs (preview.tfstate and preview.tfstateenv:pr-<number>), listing aside.
resource "azurerm_role_assignment" "preview_state" {
  count                = local.preview ? 1 : 0
  scope                = local.state_container_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.preview[0].principal_id
  description          = "Preview workspaces' state blobs only"
  condition_version    = "2.0"
  condition            = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
      AND
      !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
     )
     OR
     (
      @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'preview.tfstate'
     )
    )
  EOT
}
{%- endif %}
