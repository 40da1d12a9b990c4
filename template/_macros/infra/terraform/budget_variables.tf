variable "name" {
  description = "Name prefix (<project>-<environment>)"
  type        = string
}

variable "alert_email" {
  description = "Who receives cost alerts"
  type        = string
}

variable "daily_warning" {
  description = "Daily spend (USD) that warns"
  type        = number
}

variable "daily_critical" {
  description = "Daily spend (USD) that is critical"
  type        = number
}

variable "monthly_warning" {
  description = "Monthly spend (USD) that warns"
  type        = number
}

variable "monthly_critical" {
  description = "Monthly spend (USD) that is critical"
  type        = number
}
{%- if cloud_provider == 'gcp' %}

variable "project_id" {
  description = "Project whose spend is watched"
  type        = string
}

variable "billing_account" {
  description = "Billing account of the project"
  type        = string
}
{%- elif cloud_provider == 'azure' %}

variable "resource_group_id" {
  description = "Resource group whose spend is watched"
  type        = string
}
{%- endif %}
