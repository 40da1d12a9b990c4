{%- set p = pipeline() -%}
variable "name" {
  description = "Name prefix (<project>-<environment>)"
  type        = string
}

variable "issuer_url" {
  description = "OIDC issuer of the CI platform"
  type        = string
}

variable "subjects" {
  description = "Token subjects allowed to deploy this environment (* matches within a path segment)"
  type        = list(string)
}
{%- if p.plan_identity %}

variable "plan_subjects" {
  description = "Token subjects of the pull-request plan jobs, trusted by the read-only plan identity"
  type        = list(string)
}
{%- endif %}