{%- include 'template/_macros/infra/terraform/ci_oidc_variables.tf' %}
{%- if infra().oidc_preview_subjects %}

variable "preview_subjects" {
  description = "Token subjects of the preview jobs; the environment that passes them creates the preview identity"
  type        = list(string)
  default     = []
}
{%- endif %}

variable "audience" {
  description = "Audience of the CI's tokens (the provider's client id; the trusts check it)"
  type        = string
}

variable "create_provider" {
  description = "Create the account-wide OIDC provider (one environment per account does)"
  type        = bool
}

variable "secret_arn" {
  description = "The environment's application secret (DATABASE_URL for migrations)"
  type        = string
}
