{%- from 'template/_macros/infra/terraform/blocks.jinja' import oidc_variables with context -%}
{{ oidc_variables() }}

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
