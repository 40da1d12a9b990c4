output "function_name" {
  description = "Lambda function (scripts/deploy.sh publishes versions and moves the live alias)"
  value       = aws_lambda_function.this.function_name
}

output "artifact_bucket" {
  description = "Bucket CI uploads code packages to"
  value       = aws_s3_bucket.artifacts.id
}

output "api_endpoint" {
  description = "Default HTTP API endpoint"
  value       = aws_apigatewayv2_api.this.api_endpoint
}
