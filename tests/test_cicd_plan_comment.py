"""The IaC plan as ONE pull request comment on CircleCI, Travis CI, Jenkins, Azure DevOps and CodePipeline.

scripts/comment-plan.sh runs for real against a local stand-in of the GitHub REST API and of the Azure
DevOps pull request threads API (python http.server): the first run creates the comment, the second edits
the same comment, a long plan is cut (and says so), a missing token fails with a clear message. Then each
platform's file is read back: the plan job calls the script, and only on pull requests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from harness.ci import assert_ci_valid, load_yaml

SCRIPT = "scripts/comment-plan.sh"
TOKEN = "t0ken"
ENVIRONMENTS = ["development", "qa", "staging", "production"]
BASE = {"tier": "production", "deploy_target": "aws_ecs_fargate", "environments": ENVIRONMENTS,
        "preview_environments": "none", "dependency_updates": "renovate", "iac_tool": "terraform",
        "repository": "acme/shop"}
PLATFORMS = ["circleci", "travis", "jenkins", "azure_devops", "aws_codepipeline"]
PLANNED = ["qa", "staging", "production"]  # development runs locally, it has no plan


class FakeApis:
    """In-memory GitHub issue comments and Azure DevOps pull request threads, with a request log."""

    def __init__(self) -> None:
        self.github: dict[int, list[dict[str, Any]]] = {}
        self.threads: dict[int, list[dict[str, Any]]] = {}
        self.log: list[tuple[str, str]] = []
        self.next_id = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def handle(self, method: str, url: str, auth: str, body: Any) -> tuple[int, Any]:
        self.log.append((method, url))
        if auth != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        path = parsed.path
        if match := re.fullmatch(r"/repos/acme/shop/issues/(\d+)/comments", path):
            comments = self.github.setdefault(int(match[1]), [])
            if method == "GET":
                page, size = int(query["page"][0]), int(query["per_page"][0])
                return 200, comments[(page - 1) * size:page * size]
            comment = {"id": self.new_id(), "body": body["body"]}
            comments.append(comment)
            return 201, comment
        if (match := re.fullmatch(r"/repos/acme/shop/issues/comments/(\d+)", path)) and method == "PATCH":
            comment = next(c for cs in self.github.values() for c in cs if c["id"] == int(match[1]))
            comment["body"] = body["body"]
            return 200, comment
        prefix = r"/org/project-guid/_apis/git/repositories/repo-guid/pullRequests/(\d+)/threads"
        if match := re.fullmatch(prefix, path):
            assert query["api-version"] == ["7.1"]
            threads = self.threads.setdefault(int(match[1]), [])
            if method == "GET":
                return 200, {"value": threads, "count": len(threads)}
            thread = {"id": self.new_id(), "status": body["status"],
                      "comments": [{**c, "id": i + 1} for i, c in enumerate(body["comments"])]}
            threads.append(thread)
            return 200, thread
        if (match := re.fullmatch(prefix + r"/(\d+)/comments/(\d+)", path)) and method == "PATCH":
            thread = next(t for t in self.threads[int(match[1])] if t["id"] == int(match[2]))
            comment = next(c for c in thread["comments"] if c["id"] == int(match[3]))
            comment["content"] = body["content"]
            return 200, comment
        return 404, {"message": f"no route {method} {path}"}


@pytest.fixture
def apis() -> Iterator[tuple[FakeApis, str]]:
    fake = FakeApis()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = fake.handle(self.command, self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def script(generate) -> Path:
    for tool in ("bash", "curl", "jq"):
        if not shutil.which(tool):
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is needed to run {SCRIPT}: .ci/install.d/cicd.sh installs it")
            pytest.skip(f"{tool} is needed to run {SCRIPT}")
    return generate(**BASE, ci_platform="jenkins") / SCRIPT


def run_script(script: Path, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not re.match(
        r"(GH_TOKEN|GITHUB_|SYSTEM_|BUILD_REPOSITORY|CHANGE_ID|CIRCLE_|TRAVIS_|CODEBUILD_|PR_NUMBER)", k)}
    return subprocess.run(["bash", str(script), *args], cwd=workdir, env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, check=False)


def github_env(url: str, **extra: str) -> dict[str, str]:
    return {"GITHUB_API_URL": url, "GH_TOKEN": TOKEN, "GITHUB_REPOSITORY": "acme/shop", **extra}


def azure_env(url: str, **extra: str) -> dict[str, str]:
    return {"BUILD_REPOSITORY_PROVIDER": "TfsGit", "SYSTEM_COLLECTIONURI": f"{url}/org/", "SYSTEM_TEAMPROJECTID": "project-guid",
            "BUILD_REPOSITORY_ID": "repo-guid", "SYSTEM_PULLREQUEST_PULLREQUESTID": "12", "SYSTEM_ACCESSTOKEN": TOKEN, **extra}


def test_github_comment_is_created_then_updated_in_place(script: Path, apis, tmp_path: Path) -> None:
    fake, url = apis
    # 150 unrelated comments: the plan's comment is found across pages of 100
    fake.github[7] = [{"id": i, "body": f"review remark {i}"} for i in range(150)]
    (tmp_path / "plan.txt").write_text("Plan: 1 to add, 0 to change, 0 to destroy.\n", encoding="utf-8")
    first = run_script(script, tmp_path, github_env(url, CHANGE_ID="7"), "staging")
    assert first.returncode == 0, first.stderr
    ours = [c for c in fake.github[7] if "<!-- iac-plan:staging -->" in c["body"]]
    assert len(ours) == 1 and "Plan: 1 to add" in ours[0]["body"] and "### terraform plan: staging" in ours[0]["body"]
    (tmp_path / "plan.txt").write_text("Plan: 2 to add, 1 to change, 0 to destroy.\n", encoding="utf-8")
    second = run_script(script, tmp_path, github_env(url, CHANGE_ID="7"), "staging")
    assert second.returncode == 0, second.stderr
    again = [c for c in fake.github[7] if "<!-- iac-plan:staging -->" in c["body"]]
    assert [c["id"] for c in again] == [ours[0]["id"]] and "Plan: 2 to add" in again[0]["body"]
    assert len(fake.github[7]) == 151
    assert ("PATCH", f"/repos/acme/shop/issues/comments/{ours[0]['id']}") in fake.log
    # another environment gets its own comment
    assert run_script(script, tmp_path, github_env(url, CHANGE_ID="7"), "production").returncode == 0
    assert len(fake.github[7]) == 152


def test_long_plans_keep_their_end_and_say_they_were_cut(script: Path, apis, tmp_path: Path) -> None:
    fake, url = apis
    plan = "".join(f"resource line {i:05d}\n" for i in range(2000)) + "Plan: 2000 to add.\n"
    (tmp_path / "plan.txt").write_text(plan, encoding="utf-8")
    result = run_script(script, tmp_path, github_env(url, CHANGE_ID="3", MAX_PLAN_CHARS="5000"), "qa")
    assert result.returncode == 0, result.stderr
    body = fake.github[3][0]["body"]
    assert f"The plan has {len(plan)} characters: the first {len(plan) - 5000} are cut" in body
    assert "Plan: 2000 to add." in body and "resource line 00000" not in body
    assert len(body) < 5400
    # the default limit keeps a comment under GitHub's 65536 characters
    (tmp_path / "plan.txt").write_text(plan * 3, encoding="utf-8")
    assert run_script(script, tmp_path, github_env(url, CHANGE_ID="4"), "qa").returncode == 0
    assert len(fake.github[4][0]["body"]) < 65536


def test_a_missing_token_fails_clearly_without_calling_the_api(script: Path, apis, tmp_path: Path) -> None:
    fake, url = apis
    (tmp_path / "plan.txt").write_text("Plan: 0 to add.\n", encoding="utf-8")
    github = run_script(script, tmp_path, {**github_env(url, CHANGE_ID="7"), "GH_TOKEN": ""}, "qa")
    assert github.returncode != 0 and "GH_TOKEN is not set" in github.stderr
    # Azure Pipelines leaves an undefined $(GH_TOKEN) macro as text: still "not set"
    macro = run_script(script, tmp_path, {**github_env(url, SYSTEM_PULLREQUEST_PULLREQUESTNUMBER="7"),
                                          "GH_TOKEN": "$(GH_TOKEN)"}, "qa")
    assert macro.returncode != 0 and "GH_TOKEN is not set" in macro.stderr
    azure = run_script(script, tmp_path, {**azure_env(url), "SYSTEM_ACCESSTOKEN": ""}, "qa")
    assert azure.returncode != 0 and "SYSTEM_ACCESSTOKEN is not set" in azure.stderr
    assert fake.log == []
    wrong = run_script(script, tmp_path, {**github_env(url, CHANGE_ID="7"), "GH_TOKEN": "expired"}, "qa")
    assert wrong.returncode != 0 and "answered HTTP 401" in wrong.stderr and "Bad credentials" in wrong.stderr


def test_azure_repos_thread_is_created_then_updated_in_place(script: Path, apis, tmp_path: Path) -> None:
    fake, url = apis
    fake.threads[12] = [{"id": 1, "status": 1, "comments": [{"id": 1, "content": "please rename this"}]}]
    (tmp_path / "plan.txt").write_text("Plan: 1 to add.\n", encoding="utf-8")
    first = run_script(script, tmp_path, azure_env(url), "production")
    assert first.returncode == 0, first.stderr
    ours = [t for t in fake.threads[12] if "<!-- iac-plan:production -->" in t["comments"][0]["content"]]
    assert len(ours) == 1 and ours[0]["status"] == 4 and "Plan: 1 to add." in ours[0]["comments"][0]["content"]
    (tmp_path / "plan.txt").write_text("Plan: 3 to add.\n", encoding="utf-8")
    assert run_script(script, tmp_path, azure_env(url), "production").returncode == 0
    assert len(fake.threads[12]) == 2 and "Plan: 3 to add." in ours[0]["comments"][0]["content"]
    assert ("PATCH", f"/org/project-guid/_apis/git/repositories/repo-guid/pullRequests/12/threads/{ours[0]['id']}"
            "/comments/1?api-version=7.1") in fake.log
    assert fake.github == {}


@pytest.mark.parametrize(("variables", "number"), [
    ({"CIRCLE_PULL_REQUEST": "https://github.com/acme/shop/pull/41"}, 41),
    ({"TRAVIS_PULL_REQUEST": "42"}, 42),
    ({"CHANGE_ID": "43"}, 43),
    ({"BUILD_REPOSITORY_PROVIDER": "GitHub", "SYSTEM_PULLREQUEST_PULLREQUESTNUMBER": "44",
      "SYSTEM_PULLREQUEST_PULLREQUESTID": "987654"}, 44),
    ({"CODEBUILD_WEBHOOK_TRIGGER": "pr/45"}, 45),
])
def test_each_platform_names_the_pull_request(script: Path, apis, tmp_path: Path, variables: dict[str, str], number: int) -> None:
    fake, url = apis
    (tmp_path / "plan.txt").write_text("Plan: 0 to add.\n", encoding="utf-8")
    result = run_script(script, tmp_path, github_env(url, **variables), "qa")
    assert result.returncode == 0, result.stderr
    assert list(fake.github) == [number]


def test_no_pull_request_or_no_plan(script: Path, apis, tmp_path: Path) -> None:
    fake, url = apis
    branch = run_script(script, tmp_path, github_env(url, TRAVIS_PULL_REQUEST="false", CODEBUILD_WEBHOOK_TRIGGER="branch/main"), "qa")
    assert branch.returncode == 0 and "not a pull request" in branch.stdout and fake.log == []
    failed = run_script(script, tmp_path, github_env(url, CHANGE_ID="9"), "qa")  # the plan crashed: no plan.txt
    assert failed.returncode == 0, failed.stderr
    assert "The plan failed before it produced plan.txt" in fake.github[9][0]["body"]


# ---- each platform's plan job calls the script, on pull requests only -------------------------------------

def _comment_calls(text: str) -> list[str]:
    return re.findall(r'bash scripts/comment-plan\.sh "([^"]+)" plan\.txt', text)


def circleci_plan(project: Path) -> None:
    config = yaml.safe_load((project / ".circleci/config.yml").read_text(encoding="utf-8"))
    steps = [s["run"] for s in config["jobs"]["plan"]["steps"] if isinstance(s, dict) and "run" in s]
    step = next(s for s in steps if SCRIPT in s["command"])
    guard = re.search(r'if \[ -n "\$\{CIRCLE_PULL_REQUEST:-\}" \]; then\n\s*bash scripts/comment-plan\.sh', step["command"])
    assert guard, "the comment runs only when CircleCI names a pull request"
    assert _comment_calls(step["command"]) == ["$DEPLOY_ENVIRONMENT"]
    jobs = [next(iter(j.items())) for j in config["workflows"]["pipeline"]["jobs"] if isinstance(j, dict)]
    plans = [settings for kind, settings in jobs if kind == "plan"]
    assert [p["environment"] for p in plans] == PLANNED
    assert all("my-app-ci" in p["context"] and "main" in p["filters"]["branches"]["ignore"] for p in plans)
    assert all(SCRIPT not in json.dumps(job) for name, job in config["jobs"].items() if name != "plan")


def travis_plan(project: Path) -> None:
    config = yaml.safe_load((project / ".travis.yml").read_text(encoding="utf-8"))
    stage = next(s for s in config["stages"] if s["name"] == "plan")
    assert stage["if"] == "type = pull_request"
    jobs = [j for j in config["jobs"]["include"] if SCRIPT in json.dumps(j)]
    assert {j["stage"] for j in jobs} == {"plan"}
    assert [c for j in jobs for c in _comment_calls(j["script"][0])] == PLANNED


def jenkins_plan(project: Path) -> None:
    """The pull request build only triggers the Pipeline job my-app-iac-plan, which plans and comments every environment."""
    text = (project / "Jenkinsfile").read_text(encoding="utf-8")
    stages = dict(re.findall(r"^        stage\('([^']+)'\) \{\n(.*?)^        \}", text, flags=re.S | re.M))
    assert SCRIPT not in text
    trigger = stages["terraform plan"]
    assert re.search(r"when \{\s*beforeAgent true\s*changeRequest\(\)\s*\}", trigger)
    assert "build job: '/my-app-iac-plan', wait: true, propagate: true" in trigger
    assert "string(name: 'PR_NUMBER', value: env.CHANGE_ID)" in trigger and "string(name: 'COMMIT', value: env.PLAN_COMMIT)" in trigger
    job = (project / "jenkins/iac-plan.Jenkinsfile").read_text(encoding="utf-8")
    assert "string(name: 'PR_NUMBER'" in job and "string(name: 'COMMIT'" in job  # comment-plan.sh reads PR_NUMBER
    plans = re.findall(r"^                stage\('Plan ([^']+)'\) \{\n(.*?)^                \}$", job, flags=re.S | re.M)
    assert [environment for environment, _ in plans] == PLANNED
    for environment, body in plans:
        assert "string(credentialsId: 'my-app-gh-token', variable: 'GH_TOKEN')" in body
        assert "catchError(buildResult: 'FAILURE', stageResult: 'FAILURE')" in body  # the next environment is still planned
        assert _comment_calls(body) == [environment]


def azure_plan(project: Path) -> None:
    stages = yaml.safe_load((project / "azure-pipelines.yml").read_text(encoding="utf-8"))["stages"]
    calling = [s for s in stages if SCRIPT in json.dumps(s)]
    assert [s["stage"] for s in calling] == ["plan"]
    assert calling[0]["condition"] == "eq(variables['Build.Reason'], 'PullRequest')"
    for job in calling[0]["jobs"]:
        step = next(s for s in job["steps"] if SCRIPT in s.get("script", ""))
        assert step["condition"] == "and(succeededOrFailed(), eq(variables['Build.Reason'], 'PullRequest'))"
        assert step["env"] == {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)", "GH_TOKEN": "$(GH_TOKEN)"}
    assert [j["variables"]["DEPLOY_ENVIRONMENT"] for j in calling[0]["jobs"]] == PLANNED


def codepipeline_plan(project: Path) -> None:
    resources = load_yaml(project / "aws/codepipeline.yml")["Resources"]
    plan = resources["PlanProject"]["Properties"]
    assert plan["Source"]["BuildSpec"] == "buildspec-plan.yml" and plan["ServiceRole"] == "PlanRole.Arn"
    events = plan["Triggers"]["FilterGroups"][0]
    assert plan["Triggers"]["Webhook"] is True
    assert events[0] == {"Type": "EVENT", "Pattern": "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED"}
    assert events[1] == {"Type": "BASE_REF", "Pattern": "^refs/heads/(main)$"}
    role = resources["PlanRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess"]
    writes = [s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in writes] == ["arn:${AWS::Partition}:s3:::my-app-tfstate/*.tflock"]
    # no pipeline (pushes) runs the plan buildspec; the plan buildspec posts every environment
    pipelines = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    assert pipelines and all("buildspec-plan" not in json.dumps(p) for p in pipelines)
    buildspec = yaml.safe_load((project / "buildspec-plan.yml").read_text(encoding="utf-8"))
    assert buildspec["env"]["secrets-manager"] == {"GH_TOKEN": "my-app/ci:GH_TOKEN"}
    assert [c for command in buildspec["phases"]["build"]["commands"] for c in _comment_calls(command)] == PLANNED


READERS = {"circleci": circleci_plan, "travis": travis_plan, "jenkins": jenkins_plan, "azure_devops": azure_plan,
           "aws_codepipeline": codepipeline_plan}
FILES = {"circleci": [".circleci/config.yml"], "travis": [".travis.yml"], "jenkins": ["jenkins/iac-plan.Jenkinsfile"],
         "azure_devops": ["azure-pipelines.yml"], "aws_codepipeline": ["aws/codepipeline.yml", "buildspec-plan.yml"]}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_plan_jobs_comment_on_pull_requests_only(generate, platform: str) -> None:
    # Travis CI cannot federate to a cloud (a rule refuses it): it deploys to a PaaS, where Terraform has no
    # terraform/ root to plan (only monitoring/terraform), so it gets no plan stage and no comment script
    project = generate(**{**BASE, "deploy_target": "railway"} if platform == "travis" else BASE, ci_platform=platform)
    if platform == "travis":
        config = yaml.safe_load((project / ".travis.yml").read_text(encoding="utf-8"))
        assert "plan" not in [s["name"] for s in config["stages"]] and not (project / SCRIPT).exists()
        return
    READERS[platform](project)
    assert_ci_valid(project, relative=[*FILES[platform], SCRIPT])


@pytest.mark.parametrize("platform", ["github_actions", "gitlab_ci"])
def test_platforms_with_their_own_comment_step_do_not_get_the_script(generate, platform: str) -> None:
    assert not (generate(**BASE, ci_platform=platform) / SCRIPT).exists()


def test_no_script_without_an_iac_plan(generate) -> None:
    project = generate(**{**BASE, "iac_tool": "manual"}, ci_platform="jenkins")
    assert not (project / SCRIPT).exists() and SCRIPT not in (project / "Jenkinsfile").read_text(encoding="utf-8")
    assert not (project / "jenkins").exists() and "iac-plan" not in (project / "Jenkinsfile").read_text(encoding="utf-8")
