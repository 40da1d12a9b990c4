"""Azure DevOps, CircleCI, Jenkins, Travis CI and AWS CodePipeline: the deploy graph of every
branch_strategy x auto_deploy, read back from each platform's own file.

Each platform's file is reduced to the same shape, {environment: (gate, upstream, refs)}, so one
expectation covers all five. The real validators (vendor schemas, npm-groovy-lint, our CodePipeline
and buildspec schemas, shellcheck on every script) run on a pairwise subset that still covers every
platform x strategy and platform x auto_deploy pair.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.ci import assert_ci_valid, codepipeline, jenkinsfile, load_yaml

PLATFORMS = ["azure_devops", "circleci", "jenkins", "travis", "aws_codepipeline"]
STRATEGIES = ["trunk_based", "github_flow", "git_flow"]
AUTO = ["staging_auto_production_manual", "production_auto", "manual"]
# Pairwise: every platform meets every strategy and every auto_deploy, and across platforms every
# strategy meets every auto_deploy (GitHub Actions and GitLab CI run the full 3 x 3 matrix).
COMBOS = [(platform, STRATEGIES[j], AUTO[(i + j) % 3]) for i, platform in enumerate(PLATFORMS) for j in range(3)]
JENKINS = [(s, a) for p, s, a in COMBOS if p == "jenkins"]
FILES = {"azure_devops": ["azure-pipelines.yml"], "circleci": [".circleci/config.yml"], "jenkins": ["Jenkinsfile"],
         "travis": [".travis.yml"], "aws_codepipeline": ["buildspec.yml", "buildspec-deploy.yml", "aws/codepipeline.yml"]}
BASE = {"tier": "production", "deploy_target": "aws_ecs_fargate", "environments": ["development", "qa", "staging", "production"],
        "notifications": ["slack", "teams"], "preview_environments": "none", "dependency_updates": "renovate"}

def base(platform: str) -> dict[str, Any]:
    """BASE deploys to AWS (OIDC); Travis CI cannot federate to a cloud, so it deploys to a PaaS."""
    return {**BASE, "deploy_target": "railway"} if platform == "travis" else BASE


Graph = dict[str, tuple[str, str, str]]  # environment -> (gate, upstream environment or "", refs text)


def azure_graph(project: Path) -> Graph:
    stages = {s["stage"]: s for s in yaml.safe_load((project / "azure-pipelines.yml").read_text())["stages"]}
    graph: Graph = {}
    for name, stage in stages.items():
        if name.startswith("deploy_"):
            approvals = [j for j in stage["jobs"] if j.get("job") == "approve"]
            gated = bool(approvals) and approvals[0]["steps"][0]["task"] == "ManualValidation@1"
            upstream = stage["dependsOn"].removeprefix("deploy_") if stage["dependsOn"].startswith("deploy_") else ""
            graph[name.removeprefix("deploy_")] = ("gated" if gated else "automatic", upstream, stage["condition"])
    return graph


def circleci_graph(project: Path) -> Graph:
    jobs = yaml.safe_load((project / ".circleci/config.yml").read_text())["workflows"]["pipeline"]["jobs"]
    entries: dict[str, dict[str, Any]] = {}
    for job in jobs:  # "- lint" or "- deploy: {name: deploy-staging, ...}"
        kind, settings = (job, {}) if isinstance(job, str) else next(iter(job.items()))
        entries[(settings or {}).get("name", kind)] = settings or {}
    graph: Graph = {}
    for name, job in entries.items():
        if name.startswith("deploy-"):
            environment = name.removeprefix("deploy-")
            upstream_job = job["requires"][0]
            gated = upstream_job == f"approve-{environment}" and entries[upstream_job]["type"] == "approval"
            if gated:
                upstream_job = entries[upstream_job]["requires"][0]
            graph[environment] = ("gated" if gated else "automatic", upstream_job.removeprefix("deploy-")
                                  if upstream_job.startswith("deploy-") else "", str(job["filters"]))
    return graph


def jenkins_graph(project: Path) -> Graph:
    text = (project / "Jenkinsfile").read_text()
    stages = re.findall(r"^        stage\('([^']+)'\) \{\n(.*?)^        \}", text, flags=re.S | re.M)
    graph: Graph = {}
    previous = ""
    approved: set[str] = set()
    for title, body in stages:
        if title.startswith("Approve "):
            assert "input message:" in body and "submitter: 'my-app-approvers'" in body
            approved.add(title.removeprefix("Approve "))
        elif title.startswith("Deploy "):
            environment = title.removeprefix("Deploy ")
            graph[environment] = ("gated" if environment in approved else "automatic", previous, body.split("agent")[0])
            previous = environment
    return graph


def travis_graph(project: Path) -> Graph:
    stages = yaml.safe_load((project / ".travis.yml").read_text())["stages"]
    graph: Graph = {}
    previous = ""
    for stage in stages:
        if stage["name"].startswith("deploy-"):
            environment = stage["name"].removeprefix("deploy-")
            gated = "type = api AND env(DEPLOY_TARGET) = " + environment in stage["if"]
            graph[environment] = ("gated" if gated else "automatic", previous, stage["if"])
            previous = environment
    return graph


def codepipeline_graph(project: Path) -> Graph:
    resources = load_yaml(project / "aws/codepipeline.yml")["Resources"]
    pipelines = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    graph: Graph = {}
    for pipeline in pipelines:  # the pipeline that deploys the most environments has the whole chain
        triggers = str(pipeline["Triggers"])
        previous = ""
        for stage in pipeline["Stages"]:
            if stage["Name"].startswith("Deploy-"):
                environment = stage["Name"].removeprefix("Deploy-")
                categories = [a["ActionTypeId"]["Category"] for a in stage["Actions"]]
                assert categories[-1] == "Build"
                gate = "gated" if "Approval" in categories else "automatic"
                refs = graph.get(environment, ("", "", ""))[2] + triggers
                graph[environment] = (gate, previous, refs)
                previous = environment
    return graph


READERS = {"azure_devops": azure_graph, "circleci": circleci_graph, "jenkins": jenkins_graph,
           "travis": travis_graph, "aws_codepipeline": codepipeline_graph}


def expected_gates(auto: str) -> dict[str, str]:
    if auto == "manual":
        return {"qa": "gated", "staging": "gated", "production": "gated"}
    return {"qa": "automatic", "staging": "automatic",
            "production": "gated" if auto == "staging_auto_production_manual" else "automatic"}


@pytest.mark.parametrize(("platform", "strategy", "auto"), COMBOS)
def test_deploy_graph(generate, platform: str, strategy: str, auto: str) -> None:
    project = generate(**base(platform), ci_platform=platform, branch_strategy=strategy, auto_deploy=auto)
    graph = READERS[platform](project)
    assert list(graph) == ["qa", "staging", "production"]
    assert {env: gate for env, (gate, _, _) in graph.items()} == expected_gates(auto)
    assert [upstream for _, upstream, _ in graph.values()] == ["", "qa", "staging"]  # strictly in order
    refs = {env: text for env, (_, _, text) in graph.items()}
    if strategy == "git_flow":
        assert "develop" in refs["staging"] and "develop" not in refs["production"]
        assert all(re.search(r"release", text) and re.search(r"\^?v", text) for text in refs.values())
    else:
        assert all("main" in text and "develop" not in text and "release" not in text for text in refs.values())
    if platform != "jenkins":  # Jenkinsfiles: one batched lint below
        assert_ci_valid(project, relative=FILES[platform] + ["renovate.json", "scripts/notify.sh"])


def test_jenkinsfiles_pass_npm_groovy_lint(generate, tmp_path: Path) -> None:
    """npm-groovy-lint (one JVM) and shellcheck on the Jenkinsfile and the plan job (jenkins/iac-plan.Jenkinsfile) of
    every validated combination."""
    files = []
    for strategy, auto in JENKINS:
        project = generate(**BASE, ci_platform="jenkins", branch_strategy=strategy, auto_deploy=auto)
        for name in ("Jenkinsfile", "jenkins/iac-plan.Jenkinsfile"):
            target = tmp_path / f"{strategy}-{auto}" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(project / name, target)
            files.append(target)
    findings = jenkinsfile(tmp_path, files)
    assert not findings, "\n".join(map(str, findings))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_deploy_steps_use_the_contract_scripts(generate, platform: str) -> None:
    project = generate(**base(platform), ci_platform=platform, mode="full", deployment_strategy="blue_green",
                       rollback_automation="metric_based", rollback_error_rate_pct=4.0, db_migrations="expand_contract")
    file = FILES[platform][-2 if platform == "aws_codepipeline" else 0]
    text = (project / file).read_text(encoding="utf-8")
    order = ["scripts/migrate.sh expand", 'bash scripts/deploy.sh "$DEPLOY_ENVIRONMENT"', "scripts/smoke-test.sh",
             "max=4.0", "scripts/migrate.sh contract"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert 'bash scripts/rollback.sh "$DEPLOY_ENVIRONMENT"' in text
    assert "blue/green" in text or platform == "aws_codepipeline"
    for forbidden in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert forbidden not in text


@pytest.mark.parametrize(("platform", "marker"), [
    ("azure_devops", "SYSTEM_OIDCREQUESTURI"),
    ("circleci", 'printf \'%s\' "${CIRCLE_OIDC_TOKEN_V2}" > "$OIDC_TOKEN_FILE"'),  # AWS: the v2 token (sub names the ref)
    ("jenkins", "credentialsId: 'my-app-oidc-token'"),
])
def test_cloud_access_through_oidc(generate, platform: str, marker: str) -> None:
    project = generate(**base(platform), ci_platform=platform)
    text = (project / FILES[platform][0]).read_text(encoding="utf-8")
    assert marker in text
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_codepipeline_runs_in_iam_and_reads_secrets_manager(generate) -> None:
    project = generate(**BASE, ci_platform="aws_codepipeline", auto_deploy="staging_auto_production_manual")
    template = load_yaml(project / "aws/codepipeline.yml")
    pipeline = template["Resources"]["Pipeline"]["Properties"]
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["Triggers"][0]["GitConfiguration"]["Push"] == [{"Branches": {"Includes": ["main"]}}]
    deploy = next(s for s in pipeline["Stages"] if s["Name"] == "Deploy-production")["Actions"][-1]
    variables = deploy["Configuration"]["EnvironmentVariables"]
    assert '"name": "DATABASE_URL", "type": "SECRETS_MANAGER", "value": "my-app/production/ci:DATABASE_URL"' in variables
    assert template["Resources"]["PullRequestChecks"]["Properties"]["Triggers"]["Webhook"] is True
    buildspec = yaml.safe_load((project / "buildspec.yml").read_text(encoding="utf-8"))
    assert buildspec["phases"]["build"]["on-failure"] == "ABORT"  # a failed gate never reaches the push


def test_codepipeline_schema_rejects_a_broken_pipeline(generate, tmp_path: Path) -> None:
    project = generate(**BASE, ci_platform="aws_codepipeline")
    broken = tmp_path / "project"
    shutil.copytree(project, broken)
    path = broken / "aws/codepipeline.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("Category: Approval", "Category: Approve"), encoding="utf-8")
    (broken / "buildspec.yml").write_text("version: 0.2\nphases:\n  build: {}\n", encoding="utf-8")
    findings = codepipeline(broken, [path, broken / "buildspec.yml"])
    assert {f.path for f in findings} == {"aws/codepipeline.yml", "buildspec.yml"}


def test_travis_gates_need_a_custom_build(generate) -> None:
    project = generate(**{**BASE, "deploy_target": "railway"}, ci_platform="travis", containerize=True,
                       container_registry="ghcr", iac_tool="manual")
    config: dict[str, Any] = yaml.safe_load((project / ".travis.yml").read_text(encoding="utf-8"))
    production = next(s for s in config["stages"] if s["name"] == "deploy-production")
    assert production["if"].startswith("type = api AND env(DEPLOY_TARGET) = production")
    deploy = next(j for j in config["jobs"]["include"] if j["stage"] == "deploy-production")
    assert "bash scripts/notify.sh failure" in deploy["after_failure"][-1]
    assert "cannot federate OIDC" not in (project / ".travis.yml").read_text(encoding="utf-8")  # PaaS: no cloud


@pytest.mark.parametrize(("language", "platform"), [
    ("python", "github_actions"), ("go", "gitlab_ci"), ("java", "azure_devops"), ("ruby", "circleci"),
    ("dotnet", "travis"), ("go", "aws_codepipeline"), ("java", "github_actions"), ("dotnet", "github_actions"),
])
def test_every_language_runs_its_own_toolchain(generate, language: str, platform: str) -> None:
    """Lint, type check, tests with the 80% coverage gate and the audit of each language, quoted correctly."""
    from extensions.catalog import load_catalog

    facts = load_catalog().option("app_language", language).facts
    project = generate(**{**BASE, "deploy_target": "fly_io"}, ci_platform=platform, app_language=language,
                       container_registry="ghcr", iac_tool="manual")
    files = {"github_actions": [".github/workflows/ci.yml"], "gitlab_ci": [".gitlab-ci.yml"]}.get(platform, FILES.get(platform))
    text = "\n".join((project / f).read_text(encoding="utf-8") for f in files)
    document = yaml.safe_load(text) if len(files) == 1 else {}
    commands = " ".join(str(v) for v in _values(document)) if document else text
    for step in ("lint", "test", "audit"):
        assert facts[step].split(" && ")[0].split()[0] in commands, step
    assert "80" in facts["test"]
    if platform == "github_actions":
        setup = next(s for s in document["jobs"]["lint"]["steps"] if s.get("name", "").startswith("Set up"))
        assert setup["uses"].split("@")[0].endswith(f"setup-{facts['setup']['action']}")
    assert_ci_valid(project, relative=[*files, "scripts/notify.sh"])


def _values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for item in node.values() for v in _values(item)]
    if isinstance(node, list):
        return [v for item in node for v in _values(item)]
    return [node]


@pytest.mark.parametrize(("platform", "trigger"), [
    ("azure_devops", "eq(variables['Build.Reason'], 'Schedule')"),
    ("circleci", "equal: [scheduled_pipeline, << pipeline.trigger_source >>]"),
    ("jenkins", "triggeredBy 'TimerTrigger'"),
    ("travis", "if: type = cron"),
])
def test_scheduled_template_update(generate, platform: str, trigger: str) -> None:
    """A scheduled run proposes `copier update` as a pull request, and a scheduled run never deploys."""
    project = generate(**base(platform), ci_platform=platform)
    text = (project / FILES[platform][0]).read_text(encoding="utf-8")
    assert trigger in text
    assert "copier check-update --quiet . || status=$?" in text
    assert "copier update --trust --defaults --skip-answered --conflict rej" in text
    if platform == "azure_devops":
        deploys = [s for s in yaml.safe_load(text)["stages"] if s["stage"].startswith("deploy_")]
        assert all("in(variables['Build.Reason'], 'IndividualCI', 'BatchedCI', 'Manual')" in s["condition"] for s in deploys)
    if platform == "jenkins":
        assert text.count("not { triggeredBy 'TimerTrigger' }") >= 3  # image push and every deploy
    if platform == "travis":
        assert all(s.get("if", "").startswith(("type = push", "type = api", "type != cron", "type = cron", "type = pull_request"))
                   for s in yaml.safe_load(text)["stages"])


def test_codepipeline_schedules_the_template_update(generate) -> None:
    """EventBridge starts a CodeBuild project weekly; it runs copier check-update / update and opens a GitHub PR.

    Least privilege: the schedule's role may only start that project, the project's role may only log, read
    the <slug>/ci secret (GH_TOKEN) and use the connection. cfn-lint and our schemas check both files.
    """
    project = generate(**BASE, ci_platform="aws_codepipeline")
    resources = load_yaml(project / "aws/codepipeline.yml")["Resources"]
    schedule = resources["UpdateSchedule"]
    assert schedule["Type"] == "AWS::Events::Rule"
    assert schedule["Properties"]["ScheduleExpression"] == "cron(41 5 ? * MON *)"
    assert schedule["Properties"]["Targets"] == [{"Id": "template-update", "Arn": "UpdateProject.Arn",
                                                  "RoleArn": "UpdateScheduleRole.Arn"}]
    starter = resources["UpdateScheduleRole"]["Properties"]
    assert starter["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert starter["Policies"][0]["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "codebuild:StartBuild", "Resource": "UpdateProject.Arn"}]
    update = resources["UpdateProject"]["Properties"]
    assert update["Source"]["BuildSpec"] == "buildspec-update.yml" and update["SourceVersion"] == "refs/heads/main"
    assert update["ServiceRole"] == "UpdateRole.Arn" and "Triggers" not in update  # only the schedule starts it
    statements = resources["UpdateRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == sorted(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
                              "codeconnections:UseConnection", "codeconnections:GetConnection", "codeconnections:GetConnectionToken"])
    assert "secret:my-app/ci-*" in next(s["Resource"] for s in statements if s["Action"] == "secretsmanager:GetSecretValue")
    buildspec = yaml.safe_load((project / "buildspec-update.yml").read_text(encoding="utf-8"))
    assert buildspec["env"]["secrets-manager"] == {"GH_TOKEN": "my-app/ci:GH_TOKEN"}
    script = buildspec["phases"]["build"]["commands"][0]
    assert "copier check-update --quiet . || status=$?" in script
    assert "copier update --trust --defaults --skip-answered --conflict rej" in script
    assert '"https://api.github.com/repos/${REPOSITORY_ID}/pulls"' in script
    pipelines = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert all("buildspec-update" not in str(p) for p in pipelines)  # pushes never run it
    assert_ci_valid(project, relative=["aws/codepipeline.yml", "buildspec-update.yml", "buildspec-plan.yml"])


# ---- Terraform/OpenTofu on a target outside the clouds: no terraform/ root, so no IaC jobs ------------------

CLOUDLESS = [("circleci", "render", "terraform"), ("azure_devops", "fly_io", "opentofu"), ("jenkins", "nomad", "terraform")]


def plan_jobs(platform: str, project: Path) -> list[str]:
    """Names of the infrastructure plan jobs/stages in the platform's file."""
    if platform == "circleci":
        config = yaml.safe_load((project / ".circleci/config.yml").read_text())
        names = [next(iter(j)) if isinstance(j, dict) else j for j in config["workflows"]["pipeline"]["jobs"]]
        return [n for n in names if n == "plan"] + [n for n in config["jobs"] if n == "plan"]
    if platform == "azure_devops":
        stages = yaml.safe_load((project / "azure-pipelines.yml").read_text())["stages"]
        return [s["stage"] for s in stages if s["stage"] == "plan"]
    return re.findall(r"^        stage\('((?:terraform|tofu) plan)'\)", (project / "Jenkinsfile").read_text(), flags=re.M)


@pytest.mark.parametrize(("platform", "target", "tool"), CLOUDLESS)
def test_cloudless_terraform_has_no_iac_jobs(generate, platform: str, target: str, tool: str) -> None:
    """The deploy graph stays whole, but no job plans or applies a terraform/environments/<env> that does not exist."""
    project = generate(**{**BASE, "deploy_target": target}, iac_tool=tool, ci_platform=platform, uptime="uptimerobot",
                       branch_strategy="github_flow", auto_deploy="staging_auto_production_manual")
    assert not (project / "terraform").exists() and (project / "monitoring/terraform").is_dir()
    graph = READERS[platform](project)
    assert list(graph) == ["qa", "staging", "production"] and [u for _, u, _ in graph.values()] == ["", "qa", "staging"]
    assert plan_jobs(platform, project) == []
    text = (project / FILES[platform][0]).read_text()
    assert "terraform/environments" not in text and f"{tool} -chdir" not in text
    assert not (project / "scripts/comment-plan.sh").exists()
    if platform != "jenkins":  # Jenkinsfiles: npm-groovy-lint runs batched above
        assert_ci_valid(project, relative=FILES[platform][:1])


def test_cloud_terraform_keeps_its_plan_jobs(generate) -> None:
    """The control: on a cloud target, the same platforms plan every environment."""
    for platform in ("circleci", "azure_devops", "jenkins"):
        project = generate(**BASE, iac_tool="terraform", ci_platform=platform, branch_strategy="github_flow")
        assert plan_jobs(platform, project), platform
        assert "terraform/environments" in (project / FILES[platform][0]).read_text(), platform


@pytest.mark.parametrize(("target", "config_file"), [("render", "render.yaml"), ("fly_io", "fly.toml"), ("heroku", "app.json and Procfile"),
                                                      ("docker_swarm", "docker-stack.yml"), ("nomad", "nomad/my-app.nomad.hcl")])
def test_cloudless_terraform_suggests_what_it_manages(target: str, config_file: str) -> None:
    from extensions.catalog import load_catalog
    from extensions.rules import problems, suggestions

    catalog = load_catalog()
    answers = {"project_slug": "my-app", "deploy_target": target, "iac_tool": "terraform", "uptime": "uptimerobot",
               "status_page": "none", "metrics": "platform", "apm": "none", "error_tracking": "sentry"}
    advice = [s.message for s in suggestions(catalog, answers) if s.question == "iac_tool"]
    assert len(advice) == 1 and f", {config_file} is the infrastructure code" in advice[0], advice
    assert "monitoring/terraform (UptimeRobot, Sentry monitors)" in advice[0]
    assert not [p for p in problems(catalog, answers, only="iac_tool")]  # advice, not a refusal
    nothing = suggestions(catalog, {**answers, "uptime": "none", "error_tracking": "none"})
    assert "manages nothing until you choose uptime checks" in next(s.message for s in nothing if s.question == "iac_tool")
    on_cloud = {**answers, "deploy_target": "aws_ecs_fargate"}
    assert not [s for s in suggestions(catalog, on_cloud) if "infrastructure code" in s.message]
