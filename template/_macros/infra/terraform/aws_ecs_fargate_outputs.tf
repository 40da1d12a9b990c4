output "cluster_name" {
  description = "ECS cluster (scripts/deploy.sh updates its services)"
  value       = aws_ecs_cluster.this.name
}

output "web_service" {
  description = "ECS service of the web process"
  value       = aws_ecs_service.web.name
}

output "load_balancer_dns" {
  description = "DNS name of the load balancer"
  value       = aws_lb.this.dns_name
}
{%- if infra().progressive %}

output "codedeploy_application" {
  description = "CodeDeploy application of the web service (null when traffic_shifting is false)"
  value       = one(aws_codedeploy_app.web[*].name)
}

output "codedeploy_deployment_group" {
  description = "CodeDeploy deployment group scripts/deploy.sh creates deployments in (null when traffic_shifting is false)"
  value       = one(aws_codedeploy_deployment_group.web[*].deployment_group_name)
}

output "test_listener_url" {
  description = "Test listener URL: the new version before production traffic shifts (null when traffic_shifting is false)"
  value       = var.traffic_shifting ? "https://${var.host}:${var.test_listener_port}" : null
}
{%- endif %}
