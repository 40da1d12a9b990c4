{#- ECS Fargate module variables of progressive delivery (included by app_variables.tf). -#}
{%- set shifting = infra().progressive %}

variable "traffic_shifting" {
{%- if shifting %}
  description = "Deploy the web service blue/green through CodeDeploy ({{ deployment_strategy }}); false rolls it with the ECS circuit breaker (previews)"
{%- else %}
  description = "CodeDeploy blue/green for the web service: off with deployment_strategy rolling (the ECS circuit breaker rolls it)"
{%- endif %}
  type        = bool
  default     = {{ 'true' if shifting else 'false' }}
{%- if not shifting %}

  validation {
    condition     = !var.traffic_shifting
    error_message = "deployment_strategy rolling has no CodeDeploy traffic shifting: choose blue_green or canary with copier update."
  }
{%- endif %}
}
{%- if shifting %}

variable "test_listener_port" {
  description = "Load balancer port of the CodeDeploy test listener (the new version before traffic shifts)"
  type        = number
  default     = {{ catalog.fact('deploy_target', 'aws_ecs_fargate', 'test_listener_port') }}
}

variable "test_listener_cidr_blocks" {
  description = "Who may reach the test listener: the CI runners' smoke test (narrow to their egress ranges if fixed)"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
{%- endif %}
