{#- Shell functions of CodeDeploy blue/green on ECS, shared by scripts/deploy.sh and scripts/rollback.sh. -#}
{%- set i = infra() %}
# CodeDeploy application "${cluster}", deployment group "web" (terraform output codedeploy_application).
# The whole CodeDeploy part of this script ends within CODEDEPLOY_TIMEOUT_SECONDS (default 50 minutes, inside the
# CI job's limit); a deployment left waiting is stopped and rolled back by CodeDeploy's own ready timeout.
codedeploy_deadline=$((SECONDS + ${CODEDEPLOY_TIMEOUT_SECONDS:-3000}))

# Deployment controller of an ECS service: CODE_DEPLOY (blue/green) or ECS (rolling, e.g. traffic_shifting = false).
ecs_controller() {
  aws ecs describe-services --cluster "$cluster" --services "$1" --query 'services[0].deploymentController.type' --output text
}

# Task definition an ECS service runs: its primary task set's under CodeDeploy, the service's own otherwise.
ecs_running_task_definition() {
  local arn
  arn="$(aws ecs describe-services --cluster "$cluster" --services "$1" \
    --query "services[0].taskSets[?status=='PRIMARY'].taskDefinition | [0]" --output text)"
  if [ -z "$arn" ] || [ "$arn" = "None" ]; then
    arn="$(aws ecs describe-services --cluster "$cluster" --services "$1" --query 'services[0].taskDefinition' --output text)"
  fi
  echo "$arn"
}

# Start a CodeDeploy deployment of the web service to a task definition; prints the deployment id.
# An optional second argument overrides the deployment group's traffic shifting (rollbacks switch all at once).
codedeploy_create() {
  local task_definition="$1" config="${2:-}" appspec
  appspec="${TMPDIR:-/tmp}/appspec-${cluster}.json"
  # AppSpec of an ECS blue/green deployment: the web container of the new task definition behind the load balancer.
  cat >"$appspec" <<JSON
{
  "version": 0.0,
  "Resources": [
    {
      "TargetService": {
        "Type": "AWS::ECS::Service",
        "Properties": {
          "TaskDefinition": "${task_definition}",
          "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": {{ i.port }}}
        }
      }
    }
  ]
}
JSON
  aws deploy create-deployment --application-name "$cluster" --deployment-group-name web \
    --description "scripts/${0##*/} ${environment}: ${task_definition##*/}" \
    ${config:+--deployment-config-name "$config"} \
    --revision "$(jq -cn --rawfile content "$appspec" '{revisionType: "AppSpecContent", appSpecContent: {content: $content}}')" \
    --query deploymentId --output text
}

# Follow a deployment until it reaches the goal (third argument: a deadline other than the script's):
#   ready      the new task set runs behind the test listener and waits for continue-deployment;
#   shifted    all production traffic is on the new task set (the previous one waits for its termination);
#   succeeded  the deployment (or the rollback) finished.
# Fails when CodeDeploy stops or fails it (a failed health check{% if rollback_automation == 'metric_based' %}, the 5xx alarm{% endif %}, a stop request) or on timeout.
codedeploy_wait() {
  local id="$1" goal="$2" deadline="${3:-$codedeploy_deadline}" status event weight
  while [ "$SECONDS" -lt "$deadline" ]; do
    status="$(aws deploy get-deployment --deployment-id "$id" --query 'deploymentInfo.status' --output text)"
    case "$status" in
      Succeeded) return 0 ;;
      Failed | Stopped)
        echo "CodeDeploy deployment $id: $status: $(aws deploy get-deployment --deployment-id "$id" \
          --query 'deploymentInfo.errorInformation.message' --output text)" >&2
        return 1
        ;;
      Ready)
        if [ "$goal" = ready ]; then
          return 0
        fi
        ;;
    esac
    if [ "$goal" = shifted ] && [ "$status" = InProgress ]; then
      read -r event weight < <(aws deploy get-deployment-target --deployment-id "$id" --target-id "${cluster}:web" \
        --query "deploymentTarget.ecsTarget.[lifecycleEvents[?lifecycleEventName=='AfterAllowTraffic'].status | [0], taskSetsInfo[?taskSetLabel=='Green'].trafficWeight | [0]]" \
        --output text)
      echo "CodeDeploy deployment $id: ${weight:-0}% of production traffic on the new version"
      if [ "$event" = Succeeded ]; then
        return 0
      fi
    fi
    sleep 15
  done
  echo "CodeDeploy deployment $id did not reach '$goal' in time" >&2
  return 1
}

# Stop a deployment and let CodeDeploy send all traffic back to the previous task set; waits (15 minutes at most)
# for the rollback. A deployment that already failed or stopped has rolled back on its own.
codedeploy_stop() {
  local id="$1" deadline=$((SECONDS + 900)) rollback
  aws deploy stop-deployment --deployment-id "$id" --auto-rollback-enabled >/dev/null || true
  codedeploy_wait "$id" succeeded "$deadline" 2>/dev/null || true
  rollback="$(aws deploy get-deployment --deployment-id "$id" --query 'deploymentInfo.rollbackInfo.rollbackDeploymentId' --output text)"
  if [ -n "$rollback" ] && [ "$rollback" != "None" ]; then
    echo "CodeDeploy rollback deployment $rollback"
    codedeploy_wait "$rollback" succeeded "$deadline"
  fi
}
