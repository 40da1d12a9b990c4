{%- from 'template/_macros/infra/terraform/blocks.jinja' import cloud_variables with context -%}
variable "name" {
  description = "Name prefix of every resource (<project>-<environment>)"
  type        = string
}

variable "environment" {
  description = "Environment name (the application's namespace is <project>-<environment>)"
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes minor version"
  type        = string
}

variable "node_size" {
  description = "Machine type of the application nodes"
  type        = string
}

variable "min_nodes" {
  description = "Minimum application nodes"
  type        = number
}

variable "max_nodes" {
  description = "Maximum application nodes"
  type        = number
}{{ cloud_variables() }}
