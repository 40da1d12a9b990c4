{%- include 'template/_macros/infra/terraform/ci_oidc_variables.tf' %}

variable "project_id" {
  description = "Google Cloud project"
  type        = string
}
{%- if infra().circleci_context %}

variable "deploy_context_id" {
  description = "Id of the CircleCI context the deploy jobs of this environment use: deploy tokens must list it"
  type        = string
}
{%- endif %}
