{%- from 'template/_macros/infra/terraform/blocks.jinja' import oidc_variables with context -%}
{{ oidc_variables() }}

variable "create_provider" {
  description = "Create the account-wide OIDC provider (one environment per account does)"
  type        = bool
}

variable "secret_arn" {
  description = "The environment's application secret (DATABASE_URL for migrations)"
  type        = string
}
