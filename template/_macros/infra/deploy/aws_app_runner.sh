
require_image
name="${slug}-${environment}"
service_arn="$(aws apprunner list-services --query "ServiceSummaryList[?ServiceName=='${name}'].ServiceArn | [0]" --output text)"
if [ -z "$service_arn" ] || [ "$service_arn" = "None" ]; then
  echo "no App Runner service $name: apply terraform/environments/$environment first" >&2
  exit 1
fi
current="$(aws apprunner describe-service --service-arn "$service_arn" --query 'Service.SourceConfiguration.ImageRepository.ImageIdentifier' --output text)"
aws ssm put-parameter --name "/${slug}/${environment}/previous-image" --type String --overwrite --value "$current" >/dev/null
aws apprunner update-service --service-arn "$service_arn" \
  --source-configuration "{\"ImageRepository\": {\"ImageIdentifier\": \"${image}\", \"ImageRepositoryType\": \"ECR\"}}" >/dev/null
for _ in $(seq 1 90); do
  status="$(aws apprunner describe-service --service-arn "$service_arn" --query 'Service.Status' --output text)"
  [ "$status" = "RUNNING" ] && break
  sleep 10
done
if [ "$status" != "RUNNING" ]; then
  echo "App Runner service ended in $status" >&2
  exit 1
fi
smoke || { bash "$here/rollback.sh" "$environment"; exit 1; }
