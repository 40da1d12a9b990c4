
name="${slug}-${environment}"
service_arn="$(aws apprunner list-services --query "ServiceSummaryList[?ServiceName=='${name}'].ServiceArn | [0]" --output text)"
previous="$(aws ssm get-parameter --name "/${slug}/${environment}/previous-image" --query Parameter.Value --output text)"
aws apprunner update-service --service-arn "$service_arn" \
  --source-configuration "{\"ImageRepository\": {\"ImageIdentifier\": \"${previous}\", \"ImageRepositoryType\": \"ECR\"}}" >/dev/null
for _ in $(seq 1 90); do
  [ "$(aws apprunner describe-service --service-arn "$service_arn" --query 'Service.Status' --output text)" = "RUNNING" ] && break
  sleep 10
done
