"""ECS Fargate progressive delivery: CodeDeploy blue/green (canary, linear, all at once) or the rolling circuit breaker.

Each case is generated, validated by the real tools (terraform fmt, python-hcl2, checkov, shellcheck) and the
parsed HCL is checked for what the answers ask: the deployment controller, the traffic shifting built from
canary_steps, the rollback alarm at rollback_error_rate_pct, and the deploy script driving CodeDeploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import answers_of, assert_valid, fit_previews, hcl_of, preset

ECS = {"deploy_target": "aws_ecs_fargate", "container_registry": "ecr", "secrets_manager": "aws_secrets_manager",
       "iac_tool": "terraform", "environments": ["development", "staging", "production"], "preview_environments": "none"}
CASES: dict[str, dict[str, Any]] = {
    # CodeDeploy canaries need no feature flags: the target shifts traffic itself.
    "canary-metric": {"deployment_strategy": "canary", "canary_steps": [10, 50, 100], "rollback_automation": "metric_based",
                      "metrics": "cloudwatch", "rollback_error_rate_pct": 2.5, "feature_flags": "none"},
    "canary-linear-smoke": {"deployment_strategy": "canary", "canary_steps": [25, 50, 75, 100], "rollback_automation": "smoke_test",
                            "has_worker": False},
    "blue-green-metric": {"deployment_strategy": "blue_green", "rollback_automation": "metric_based", "metrics": "cloudwatch",
                          "rollback_error_rate_pct": 4.0},
    "blue-green-none": {"deployment_strategy": "blue_green", "rollback_automation": "none", "has_worker": False},
    "ab-testing-flags": {"deployment_strategy": "ab_testing", "feature_flags": "unleash", "rollback_automation": "smoke_test"},
    "rolling-metric": {"deployment_strategy": "rolling", "rollback_automation": "metric_based", "metrics": "cloudwatch"},
    "rolling-smoke": {"deployment_strategy": "rolling", "rollback_automation": "smoke_test"},
}
SHIFTING = [name for name, case in CASES.items() if case["deployment_strategy"] != "rolling"]


def _generate(generate, name: str) -> Path:
    return generate(**fit_previews({**preset("production"), **ECS, **CASES[name]}))


_hcl = hcl_of  # python-hcl2 with plain strings (conftest)


def _blocks(parsed: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """{'aws_ecs_service.web': {...}} for every block of a kind (resource, data, variable, output)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get(kind, []):
        for type_name, named in entry.items():
            if kind in ("resource", "data"):
                for name, body in named.items():
                    found[f"{type_name}.{name}"] = body
            else:
                found[type_name] = named
    return found


def _module(project: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    module = project / "terraform" / "modules" / "aws_ecs_fargate"
    return (_blocks(_hcl(module / "main.tf"), "resource"), _blocks(_hcl(module / "variables.tf"), "variable"),
            _blocks(_hcl(module / "outputs.tf"), "output"))


@pytest.mark.parametrize("name", CASES)
def test_ecs_terraform_scripts_and_docs_pass_the_real_tools(generate, name):
    assert_valid(_generate(generate, name), only={"terraform", "shell", "pymarkdown"})


@pytest.mark.parametrize("name", SHIFTING)
def test_progressive_strategies_deploy_the_web_service_with_codedeploy(generate, name):
    project = _generate(generate, name)
    resources, variables, outputs = _module(project)
    web = resources["aws_ecs_service.web"]
    assert web["deployment_controller"][0]["type"] == '${var.traffic_shifting ? "CODE_DEPLOY" : "ECS"}'
    assert variables["traffic_shifting"]["default"] is True, "the contract with the preview root: traffic_shifting"
    # CodeDeploy owns the task definition and the target group of the web service, and the listeners' target.
    assert {"task_definition", "load_balancer"} <= {s.strip("${}") for s in web["lifecycle"][0]["ignore_changes"]}
    for listener in ("aws_lb_listener.https", "aws_lb_listener.test"):
        assert [s.strip("${}") for s in resources[listener]["lifecycle"][0]["ignore_changes"]] == ["default_action"]
    assert resources["aws_lb_listener.test"]["protocol"] == "HTTPS"
    assert resources["aws_codedeploy_app.web"]["compute_platform"] == "ECS"
    role = resources["aws_iam_role_policy_attachment.codedeploy"]
    assert role["policy_arn"] == "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"

    group = resources["aws_codedeploy_deployment_group.web"]
    assert group["deployment_style"][0] == {"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "BLUE_GREEN"}
    pair = group["load_balancer_info"][0]["target_group_pair_info"][0]
    assert [tg["name"] for tg in pair["target_group"]] == ["${aws_lb_target_group.web.name}",
                                                            "${aws_lb_target_group.green[0].name}"]
    assert pair["prod_traffic_route"][0]["listener_arns"] == ["${aws_lb_listener.https.arn}"]
    assert pair["test_traffic_route"][0]["listener_arns"] == ["${aws_lb_listener.test[0].arn}"]
    assert group["ecs_service"][0] == {"cluster_name": "${aws_ecs_cluster.this.name}", "service_name": "${aws_ecs_service.web.name}"}
    blue_green = group["blue_green_deployment_config"][0]
    assert blue_green["deployment_ready_option"][0]["action_on_timeout"] == "STOP_DEPLOYMENT"
    assert blue_green["terminate_blue_instances_on_deployment_success"][0]["termination_wait_time_in_minutes"] > 0
    assert "DEPLOYMENT_FAILURE" in group["auto_rollback_configuration"][0]["events"]
    assert {"codedeploy_application", "codedeploy_deployment_group"} <= set(outputs)

    root_outputs = _blocks(_hcl(project / "terraform" / "environments" / "production" / "outputs.tf"), "output")
    assert root_outputs["codedeploy_application"]["value"] == "${module.app.codedeploy_application}"
    deploy_policy = (project / "terraform" / "modules" / "ci_oidc" / "main.tf").read_text(encoding="utf-8")
    assert '"codedeploy:CreateDeployment"' in deploy_policy and '"codedeploy:ContinueDeployment"' in deploy_policy


def test_canary_steps_become_a_time_based_canary(generate):
    project = _generate(generate, "canary-metric")
    resources, _, _ = _module(project)
    config = resources["aws_codedeploy_deployment_config.web"]
    routing = config["traffic_routing_config"][0]
    assert routing["type"] == "TimeBasedCanary"
    # canary_steps [10, 50, 100]: 10% first; CodeDeploy holds it for the pauses of both steps below 100% (2 x 5 min).
    assert routing["time_based_canary"][0] == {"percentage": 10, "interval": 10}
    assert config["lifecycle"][0]["create_before_destroy"] is True
    group = resources["aws_codedeploy_deployment_group.web"]
    assert group["deployment_config_name"] == "${aws_codedeploy_deployment_config.web[0].deployment_config_name}"


def test_evenly_spaced_canary_steps_become_a_linear_shift(generate):
    resources, _, _ = _module(_generate(generate, "canary-linear-smoke"))
    routing = resources["aws_codedeploy_deployment_config.web"]["traffic_routing_config"][0]
    assert routing["type"] == "TimeBasedLinear"
    assert routing["time_based_linear"][0] == {"percentage": 25, "interval": 5}


@pytest.mark.parametrize("name", ["blue-green-metric", "blue-green-none"])
def test_blue_green_switches_all_at_once_and_keeps_blue_for_a_while(generate, name):
    resources, _, _ = _module(_generate(generate, name))
    assert "aws_codedeploy_deployment_config.web" not in resources
    group = resources["aws_codedeploy_deployment_group.web"]
    assert group["deployment_config_name"] == "CodeDeployDefault.ECSAllAtOnce"
    wait = group["blue_green_deployment_config"][0]["terminate_blue_instances_on_deployment_success"][0]
    assert wait["action"] == "TERMINATE" and wait["termination_wait_time_in_minutes"] == 30


@pytest.mark.parametrize("name", ["canary-metric", "blue-green-metric"])
def test_metric_based_rollback_stops_on_the_5xx_ratio_alarm(generate, name):
    project = _generate(generate, name)
    a = answers_of(project)
    resources, _, _ = _module(project)
    alarm = resources["aws_cloudwatch_metric_alarm.deploy_errors"]
    assert alarm["threshold"] == a["rollback_error_rate_pct"]
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["error_rate"]["return_data"] is True and "errors" in queries["error_rate"]["expression"]
    assert queries["errors"]["metric"][0]["metric_name"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"][0]["metric_name"] == "RequestCount"
    group = resources["aws_codedeploy_deployment_group.web"]
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["auto_rollback_configuration"][0]["events"]
    assert group["alarm_configuration"][0]["alarms"] == "${aws_cloudwatch_metric_alarm.deploy_errors[*].alarm_name}"


@pytest.mark.parametrize("name", ["canary-linear-smoke", "blue-green-none", "ab-testing-flags"])
def test_without_metric_rollback_there_is_no_alarm(generate, name):
    resources, _, _ = _module(_generate(generate, name))
    assert "aws_cloudwatch_metric_alarm.deploy_errors" not in resources
    group = resources["aws_codedeploy_deployment_group.web"]
    assert "alarm_configuration" not in group
    assert "DEPLOYMENT_STOP_ON_ALARM" not in group["auto_rollback_configuration"][0]["events"]


@pytest.mark.parametrize("name", ["rolling-metric", "rolling-smoke"])
def test_rolling_keeps_the_ecs_controller_and_circuit_breaker(generate, name):
    project = _generate(generate, name)
    resources, variables, outputs = _module(project)
    assert not [key for key in resources if "codedeploy" in key or key.endswith(".green") or key.endswith(".test")]
    web = resources["aws_ecs_service.web"]
    assert "deployment_controller" not in web
    assert web["deployment_circuit_breaker"][0] == {"enable": True, "rollback": True}
    # The variable exists (the preview root sets it) but cannot turn CodeDeploy on without a progressive strategy.
    assert variables["traffic_shifting"]["default"] is False
    assert variables["traffic_shifting"]["validation"][0]["condition"] == "${!var.traffic_shifting}"
    assert "codedeploy_application" not in outputs
    deploy = (project / "scripts" / "deploy.sh").read_text(encoding="utf-8")
    assert "aws deploy" not in deploy and 'aws ecs update-service --cluster "$cluster" --service "$service"' in deploy


@pytest.mark.parametrize("name", ["canary-metric", "blue-green-none"])
def test_deploy_script_drives_codedeploy_and_aborts_on_a_failed_smoke_test(generate, name):
    project = _generate(generate, name)
    a = answers_of(project)
    deploy = (project / "scripts" / "deploy.sh").read_text(encoding="utf-8")
    rollback = (project / "scripts" / "rollback.sh").read_text(encoding="utf-8")
    # AppSpec (JSON) of the new task definition, then create, wait for the test listener, smoke, continue.
    assert '"Type": "AWS::ECS::Service"' in deploy and f'"ContainerPort": {a["app_port"]}' in deploy
    assert "aws ecs register-task-definition" in deploy and "aws deploy create-deployment" in deploy
    body = deploy[deploy.index('web_revision="$(register_revision web)"'):]
    order = ['register_revision web', 'codedeploy_create "$web_revision"', 'codedeploy_wait "$deployment" ready',
             'smoke "$test_url"', "aws deploy continue-deployment", 'codedeploy_wait "$deployment" shifted']
    positions = [body.index(step) for step in order]
    assert positions == sorted(positions), "register, create, smoke on the test listener, continue, wait for the shift"
    assert "aws deploy stop-deployment --deployment-id \"$id\" --auto-rollback-enabled" in deploy
    assert 'test_url="https://${host}:8443"' in deploy
    # Previews (traffic_shifting = false) roll with the ECS controller: the script asks the service which it has.
    assert 'if [ "$(ecs_controller web)" = "CODE_DEPLOY" ]; then' in deploy
    assert "aws deploy list-deployments" in rollback and "CodeDeployDefault.ECSAllAtOnce" in rollback
    if a["has_worker"]:
        assert "--service worker" in deploy, "the worker keeps rolling"


def test_ecs_canary_is_documented_as_codedeploy(generate):
    project = _generate(generate, "canary-metric")
    infrastructure = (project / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    assert "CodeDeploy" in infrastructure and "8443" in infrastructure
    operations = (project / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "10% of the production traffic goes to the new task set for 10 minutes" in operations
    assert "5xx responses above 2.5% of requests" in operations


def test_manual_setup_lists_the_codedeploy_steps(generate):
    project = generate(**fit_previews({**preset("production"), **ECS, **CASES["canary-linear-smoke"], "iac_tool": "manual"}))
    assert_valid(project, only={"pymarkdown", "shell"})
    infrastructure = (project / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    assert "1. Give the web service the CodeDeploy deployment controller" in infrastructure
    assert "25% more of the production traffic moves to the new task set every 5 minutes" in infrastructure


# A stand-in for the aws CLI: it logs every call and answers like ECS and CodeDeploy would (one deployment that
# waits behind the test listener until continued, then shifts all traffic). STUB_CONTROLLER picks the service's
# deployment controller; curl answers 503 for URLs matching STUB_FAIL_URL (the smoke test's failure).
AWS_STUB = r"""#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"$STUB_LOG"
state="$STUB_DIR/state"
case "$*" in
  *"deploymentController.type"*) echo "${STUB_CONTROLLER:-CODE_DEPLOY}" ;;
  *"taskSets[?status=='PRIMARY']"*) echo "arn:aws:ecs:eu-west-1:1:task-definition/${STUB_FAMILY}-web:7" ;;
  *"services[0].taskDefinition"*) echo "arn:aws:ecs:eu-west-1:1:task-definition/${STUB_FAMILY}-${STUB_SERVICE:-web}:7" ;;
  "ecs describe-task-definition"*)
    echo '{"family": "f", "containerDefinitions": [{"name": "web", "image": "old"}], "cpu": "256", "memory": "512"}' ;;
  "ecs register-task-definition"*) echo "arn:aws:ecs:eu-west-1:1:task-definition/${STUB_FAMILY}-web:8" ;;
  "deploy create-deployment"*) echo Ready >"$state"; echo d-STUB ;;
  "deploy continue-deployment"*) echo InProgress >"$state" ;;
  "deploy stop-deployment"*) echo Stopped >"$state" ;;
  "deploy list-deployments"*) echo "${STUB_ACTIVE:-None}" ;;
  *"deploymentInfo.status"*) cat "$state" ;;
  *"rollbackDeploymentId"*) echo None ;;
  *"errorInformation"*) echo "stopped by the test" ;;
  "deploy get-deployment-target"*) printf 'Succeeded\t100.0\n' ;;
  *) ;;
esac
"""
CURL_STUB = r"""#!/usr/bin/env bash
for url; do :; done
if [ -n "${STUB_FAIL_URL:-}" ] && [[ "$url" == *"$STUB_FAIL_URL"* ]]; then echo 503; else echo 200; fi
"""


def _run_script(project: Path, tmp_path: Path, script: str, **env: str) -> tuple[int, str, list[str]]:
    import os
    import shutil
    import subprocess

    work = tmp_path / "project"
    shutil.copytree(project / "scripts", work / "scripts")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in (("aws", AWS_STUB), ("curl", CURL_STUB)):
        (stubs / name).write_text(text, encoding="utf-8")
        (stubs / name).chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    variables = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "STUB_LOG": str(log), "STUB_DIR": str(tmp_path),
                 "STUB_FAMILY": "my-app-production", "SMOKE_RETRIES": "1", "SMOKE_DELAY": "0", "TMPDIR": str(tmp_path), **env}
    args = ["bash", str(work / "scripts" / script), "production"]
    if script == "deploy.sh":
        args.append("registry.example.com/my-app:1.2.3")
    proc = subprocess.run(args, capture_output=True, text=True, env=variables, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr, log.read_text(encoding="utf-8").splitlines()


def _index(calls: list[str], prefix: str) -> int:
    return next(n for n, call in enumerate(calls) if call.startswith(prefix))


def test_deploy_sh_smoke_tests_the_test_listener_then_lets_codedeploy_shift(generate, tmp_path):
    project = _generate(generate, "canary-metric")
    code, output, calls = _run_script(project, tmp_path, "deploy.sh")
    assert code == 0, output
    create = calls[_index(calls, "deploy create-deployment")]
    assert "--application-name my-app-production --deployment-group-name web" in create
    assert "--deployment-config-name" not in create, "the deployment group's canary config applies"
    appspec = (tmp_path / "appspec-my-app-production.json").read_text(encoding="utf-8")
    assert '"TaskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/my-app-production-web:8"' in appspec
    assert _index(calls, "ecs register-task-definition") < _index(calls, "deploy create-deployment") < \
        _index(calls, "deploy continue-deployment")
    assert not [call for call in calls if call.startswith("deploy stop-deployment")]
    assert "100.0% of production traffic on the new version" in output
    # the worker rolls after the web service
    assert _index(calls, "deploy continue-deployment") < _index(calls, "ecs update-service --cluster my-app-production --service worker")


def test_deploy_sh_stops_codedeploy_with_rollback_when_the_test_listener_fails(generate, tmp_path):
    project = _generate(generate, "canary-metric")
    code, output, calls = _run_script(project, tmp_path, "deploy.sh", STUB_FAIL_URL=":8443")
    assert code == 1, output
    assert "deploy aborted: the new version failed its smoke test on the test listener" in output
    assert "deploy stop-deployment --deployment-id d-STUB --auto-rollback-enabled" in calls
    assert not [call for call in calls if call.startswith("deploy continue-deployment")], "production traffic never moved"
    assert not [call for call in calls if "--service worker" in call]


def test_deploy_sh_rolls_a_service_without_codedeploy(generate, tmp_path):
    """A root with traffic_shifting = false (previews) keeps the ECS controller: the same script rolls it."""
    project = _generate(generate, "canary-metric")
    code, output, calls = _run_script(project, tmp_path, "deploy.sh", STUB_CONTROLLER="ECS")
    assert code == 0, output
    assert not [call for call in calls if call.startswith("deploy ")]
    assert [call for call in calls if call.startswith("ecs update-service --cluster my-app-production --service web")]


@pytest.mark.parametrize(("active", "expected"), [
    ("d-RUNNING", "deploy stop-deployment --deployment-id d-RUNNING --auto-rollback-enabled"),
    ("None", "--deployment-config-name CodeDeployDefault.ECSAllAtOnce"),
])
def test_rollback_sh_stops_a_running_deployment_or_redeploys_the_previous_revision(generate, tmp_path, active, expected):
    project = _generate(generate, "blue-green-none")
    code, output, calls = _run_script(project, tmp_path, "rollback.sh", STUB_ACTIVE=active)
    assert code == 0, output
    assert [call for call in calls if expected in call], calls
    if active == "None":
        appspec = (tmp_path / "appspec-my-app-production.json").read_text(encoding="utf-8")
        assert "task-definition/my-app-production-web:6" in appspec, "the revision before the running one"
