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
