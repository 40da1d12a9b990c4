output "deploy_role_arn" {
  description = "Role CI assumes (AWS_DEPLOY_ROLE_ARN)"
  value       = aws_iam_role.deploy.arn
}
{%- if pipeline().plan_identity %}

output "plan_role_arn" {
  description = "Read-only role the pull-request plan jobs assume (AWS_PLAN_ROLE_ARN)"
  value       = aws_iam_role.plan.arn
}
{%- endif %}
{%- if infra().oidc_preview_subjects %}

output "preview_role_arn" {
  description = "Role the preview jobs assume (AWS_PREVIEW_ROLE_ARN); null in environments that do not create it"
  value       = one(aws_iam_role.preview[*].arn)
}
{%- endif %}
