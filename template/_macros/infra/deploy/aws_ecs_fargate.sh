
require_image
cluster="${slug}-${environment}"
# ECS rolls the service with the deployment circuit breaker: a failing version is rolled back by ECS.
for service in web{% if has_worker %} worker{% endif %}; do
  current="$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].taskDefinition' --output text)"
  aws ecs describe-task-definition --task-definition "$current" --query 'taskDefinition' --output json |
    jq --arg image "$image" '.containerDefinitions[0].image = $image
      | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes, requiresCompatibilities, cpu, memory, runtimePlatform}' \
      >"${TMPDIR:-/tmp}/${service}-task.json"
  revision="$(aws ecs register-task-definition --cli-input-json "file://${TMPDIR:-/tmp}/${service}-task.json" --query 'taskDefinition.taskDefinitionArn' --output text)"
  aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "$revision" >/dev/null
done
aws ecs wait services-stable --cluster "$cluster" --services web{% if has_worker %} worker{% endif %}
smoke || { bash "$here/rollback.sh" "$environment"; exit 1; }
