{%- from 'template/_macros/infra/terraform/blocks.jinja' import cloud_variables with context -%}
variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)"
  type        = string
}

variable "environment" {
  description = "Environment name"
  type        = string
}

variable "image" {
  description = "Image reference (or code artifact) to run"
  type        = string
}

variable "port" {
  description = "Port the application listens on"
  type        = number
}

variable "cpu" {
  description = "CPU per instance, in millicores"
  type        = number
}

variable "memory" {
  description = "Memory per instance, in MB"
  type        = number
}

variable "min_instances" {
  description = "Minimum running instances"
  type        = number
}

variable "max_instances" {
  description = "Maximum running instances"
  type        = number
}

variable "cpu_target" {
  description = "Average CPU utilisation autoscaling aims for (percent)"
  type        = number
}

variable "health_path" {
  description = "Readiness path probed by the load balancer"
  type        = string
}

variable "host" {
  description = "Public host name of the environment"
  type        = string
}

variable "liveness_path" {
  description = "Liveness path (the process is alive)"
  type        = string
  default     = "/health/live"
}

variable "worker_command" {
  description = "Command of the background worker (empty: no worker)"
  type        = list(string)
  default     = []
}{{ cloud_variables() }}
{%- if cloud_provider == 'aws' %}

variable "zone_name" {
  description = "Route 53 hosted zone of the domain"
  type        = string
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion"
  type        = bool
}
{%- if deploy_target == 'aws_ecs_fargate' %}
{%- include 'template/_macros/infra/terraform/aws_ecs_fargate_variables.tf' %}
{%- endif %}
{%- elif cloud_provider == 'gcp' %}

variable "secret_ids" {
  description = "Secret Manager secret ids by environment variable name"
  type        = map(string)
}

variable "cloudsql_connection" {
  description = "Cloud SQL instance connection name (empty without Cloud SQL)"
  type        = string
}
{%- endif %}
