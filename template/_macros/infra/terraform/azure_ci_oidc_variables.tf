{%- include 'template/_macros/infra/terraform/ci_oidc_variables.tf' %}
{%- if infra().oidc_preview_subjects %}

variable "preview_subjects" {
  description = "Token subjects of the preview jobs; the environment that passes them creates the preview identity"
  type        = list(string)
  default     = []
}

variable "preview_subscription_id" {
  description = "Subscription the previews run in (their own, recommended); null: this environment's subscription"
  type        = string
  default     = null
}
{%- endif %}

variable "resource_group_id" {
  description = "Resource group CI may deploy to"
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the identity"
  type        = string
}

variable "location" {
  description = "Azure region"
  type        = string
}
