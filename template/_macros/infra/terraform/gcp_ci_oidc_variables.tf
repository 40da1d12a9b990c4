{%- from 'template/_macros/infra/terraform/blocks.jinja' import oidc_variables with context -%}
{{ oidc_variables() }}

variable "project_id" {
  description = "Google Cloud project"
  type        = string
}
