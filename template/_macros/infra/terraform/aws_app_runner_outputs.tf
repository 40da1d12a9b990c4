output "service_arn" {
  description = "App Runner service (scripts/deploy.sh updates it)"
  value       = aws_apprunner_service.this.arn
}

output "service_url" {
  description = "Default App Runner URL"
  value       = aws_apprunner_service.this.service_url
}

output "domain_validation_records" {
  description = "DNS records that validate the custom domain"
  value       = aws_apprunner_custom_domain_association.this.certificate_validation_records
}
