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
