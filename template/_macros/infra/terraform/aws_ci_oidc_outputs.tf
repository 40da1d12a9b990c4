output "deploy_role_arn" {
  description = "Role CI assumes (AWS_DEPLOY_ROLE_ARN)"
  value       = aws_iam_role.deploy.arn
}
