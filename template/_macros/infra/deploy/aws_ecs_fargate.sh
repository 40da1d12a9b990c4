
require_image
cluster="${slug}-${environment}"
{%- if not infra().progressive %}
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
{%- else %}
# The CodeDeploy test listener serves the new task set before production traffic moves to it.
test_url="https://${host}:{{ catalog.fact('deploy_target', 'aws_ecs_fargate', 'test_listener_port') }}"
{%- include 'template/_macros/infra/deploy/aws_ecs_fargate_codedeploy.sh' %}
# Register a revision of a service's running task definition with the new image; prints its ARN.
register_revision() {
  local service="$1" file
  file="${TMPDIR:-/tmp}/${cluster}-${service}-task.json"
  aws ecs describe-task-definition --task-definition "$(ecs_running_task_definition "$service")" --query 'taskDefinition' --output json |
    jq --arg image "$image" '.containerDefinitions[0].image = $image
      | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes, requiresCompatibilities, cpu, memory, runtimePlatform}' \
      >"$file"
  aws ecs register-task-definition --cli-input-json "file://${file}" --query 'taskDefinition.taskDefinitionArn' --output text
}

web_revision="$(register_revision web)"
if [ "$(ecs_controller web)" = "CODE_DEPLOY" ]; then
  # Blue/green through CodeDeploy: the new task set starts behind the test listener, is smoke-tested there, then
  # CodeDeploy shifts production traffic {% if deployment_strategy == 'blue_green' %}all at once{% else %}as the group's deployment config says (from canary_steps; the pauses are CodeDeploy's){% endif %}
  # and rolls back on its own when the deployment fails{% if rollback_automation == 'metric_based' %} or the 5xx alarm fires{% endif %}.
  deployment="$(codedeploy_create "$web_revision")"
  echo "CodeDeploy deployment $deployment of ${web_revision##*/}"
  abort() {
    echo "deploy aborted: $1" >&2
    codedeploy_stop "$deployment"
    exit 1
  }
  codedeploy_wait "$deployment" ready || abort "the new task set did not become ready behind the test listener"
  smoke "$test_url" || abort "the new version failed its smoke test on the test listener"
  aws deploy continue-deployment --deployment-id "$deployment" --deployment-wait-type READY_WAIT
  codedeploy_wait "$deployment" shifted || abort "CodeDeploy did not finish shifting production traffic"
  smoke || abort "smoke test failed with all traffic on the new version"
else
  # traffic_shifting = false: the ECS controller rolls the service with its circuit breaker.
  aws ecs update-service --cluster "$cluster" --service web --task-definition "$web_revision" >/dev/null
  aws ecs wait services-stable --cluster "$cluster" --services web
  smoke || { bash "$here/rollback.sh" "$environment"; exit 1; }
fi
{%- if has_worker %}
# The worker has no load balancer: it rolls with the circuit breaker once the web service runs the new version.
aws ecs update-service --cluster "$cluster" --service worker --task-definition "$(register_revision worker)" >/dev/null
aws ecs wait services-stable --cluster "$cluster" --services worker
{%- endif %}
{%- endif %}
