# The CI's federated identity: a user-assigned managed identity trusts the CI's OIDC token for
# one subject and may change only this environment's resource group. No client secret exists.
resource "azurerm_user_assigned_identity" "ci" {
  name                = "${var.name}-ci"
  location            = var.location
  resource_group_name = var.resource_group_name
}

resource "azurerm_federated_identity_credential" "ci" {
  name                = "ci"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.ci.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = var.issuer_url
  subject             = var.subject
}

resource "azurerm_role_assignment" "ci" {
  scope                = var.resource_group_id
  role_definition_name = "Contributor"
  principal_id         = azurerm_user_assigned_identity.ci.principal_id
}
