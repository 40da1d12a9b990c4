
cluster="${slug}-${environment}"
{%- if not infra().progressive %}
for service in web{% if has_worker %} worker{% endif %}; do
  current="$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].taskDefinition' --output text)"
  family="${current%:*}"
  revision="${current##*:}"
  aws ecs update-service --cluster "$cluster" --service "$service" --task-definition "${family}:$((revision - 1))" >/dev/null
done
aws ecs wait services-stable --cluster "$cluster" --services web{% if has_worker %} worker{% endif %}
{%- else %}
{%- include 'template/_macros/infra/deploy/aws_ecs_fargate_codedeploy.sh' %}
# The revision before the one a service runs (ROLLBACK_TASK_DEFINITION overrides the web service's).
previous_task_definition() {
  local current
  current="$(ecs_running_task_definition "$1")"
  echo "${current%:*}:$((${current##*:} - 1))"
}

if [ "$(ecs_controller web)" = "CODE_DEPLOY" ]; then
  active="$(aws deploy list-deployments --application-name "$cluster" --deployment-group-name web \
    --include-only-statuses Created Queued InProgress Ready Baking --query 'deployments[0]' --output text)"
  if [ -n "$active" ] && [ "$active" != "None" ]; then
    # A deployment is running (or its previous task set still waits for termination): CodeDeploy switches back.
    echo "stopping CodeDeploy deployment $active: traffic returns to the previous task set"
    codedeploy_stop "$active"
  else
    target="${ROLLBACK_TASK_DEFINITION:-$(previous_task_definition web)}"
    deployment="$(codedeploy_create "$target" CodeDeployDefault.ECSAllAtOnce)"
    echo "CodeDeploy deployment $deployment back to ${target##*/}"
    codedeploy_wait "$deployment" ready
    aws deploy continue-deployment --deployment-id "$deployment" --deployment-wait-type READY_WAIT
    codedeploy_wait "$deployment" shifted
  fi
else
  aws ecs update-service --cluster "$cluster" --service web --task-definition "${ROLLBACK_TASK_DEFINITION:-$(previous_task_definition web)}" >/dev/null
  aws ecs wait services-stable --cluster "$cluster" --services web
fi
{%- if has_worker %}
aws ecs update-service --cluster "$cluster" --service worker --task-definition "$(previous_task_definition worker)" >/dev/null
aws ecs wait services-stable --cluster "$cluster" --services worker
{%- endif %}
{%- endif %}
