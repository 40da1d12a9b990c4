output "client_id" {
  description = "Client id CI logs in with (AZURE_CLIENT_ID)"
  value       = azurerm_user_assigned_identity.ci.client_id
}

output "tenant_id" {
  description = "Entra ID tenant (AZURE_TENANT_ID)"
  value       = azurerm_user_assigned_identity.ci.tenant_id
}
{%- if pipeline().plan_identity %}

output "plan_client_id" {
  description = "Client id the pull-request plan jobs log in with (AZURE_PLAN_CLIENT_ID, read-only)"
  value       = azurerm_user_assigned_identity.plan.client_id
}
{%- endif %}
{%- if infra().oidc_preview_subjects %}

output "preview_client_id" {
  description = "Client id the preview jobs log in with (AZURE_PREVIEW_CLIENT_ID); null in environments that do not create it"
  value       = one(azurerm_user_assigned_identity.preview[*].client_id)
}
{%- endif %}
