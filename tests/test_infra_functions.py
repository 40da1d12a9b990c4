"""Function targets (aws_lambda, azure_functions) run a code package, not an image (issues 3 and 4).

scripts/package.sh builds the deterministic zip the platform expects for the language, scripts/deploy.sh builds,
uploads and publishes it when CI passes no package (every CI platform's deploy job has the toolchain it needs),
and the Lambda runtime/handler and Functions worker are catalog facts every IaC program reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, answers_of, assert_valid, preset
from harness.tools import tool

from extensions.catalog import load_catalog

AWS = {"container_registry": "ecr", "secrets_manager": "aws_secrets_manager"}
AZURE = {"container_registry": "acr", "secrets_manager": "azure_key_vault", "metrics": "prometheus_grafana"}
BASE: dict[str, Any] = {"environments": ["development", "staging", "production"], "has_worker": False, "containerize": False,
                        "database": "none", "cache": "none", "preview_environments": "none", "ci_platform": "github_actions",
                        "iac_tool": "terraform", "notifications": ["slack"]}
TARGETS: dict[str, dict[str, Any]] = {
    "aws_lambda": {**AWS, "deploy_target": "aws_lambda", "deployment_strategy": "canary", "canary_steps": [10, 100]},
    "azure_functions": {**AZURE, "deploy_target": "azure_functions", "deployment_strategy": "blue_green"},
}
LANGUAGES = ["node", "python", "go", "java", "ruby", "dotnet"]
SHA = re.compile(r"[0-9a-f]{12}")


def _answers(target: str, language: str = "python", **extra: Any) -> dict[str, Any]:
    return {**preset("production"), **BASE, **TARGETS[target], "app_language": language, **extra}


def _fact(language: str, key: str) -> Any:
    return load_catalog().fact("app_language", language, key)


def _copy(project: Path, tmp: Path) -> Path:
    """A private, git-initialised copy of a generated project (generated trees are shared and read-only)."""
    work = tmp / "my-app"
    shutil.copytree(project, work)
    return work


def _commit(work: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "app", "--no-gpg-sign"]):
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
    return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=work, check=True, capture_output=True,
                          text=True).stdout.strip()


def _write(work: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# Tiny apps without dependencies: packaging needs neither the network nor a registry.
PYTHON_APP = {
    "requirements.txt": "# no runtime dependencies\n",
    "app/__init__.py": "",
    "app/lambda_handler.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n",
    "app/__pycache__/stale.cpython-312.pyc": "not packaged",
    "function_app.py": "import azure.functions as func\n\napp = func.FunctionApp()\n",
    "tests/test_app.py": "def test_nothing():\n    pass\n",
}
NODE_APP = {
    "package.json": json.dumps({"name": "my-app", "version": "1.0.0", "private": True, "main": "dist/functions.js",
                                "scripts": {"build": "mkdir -p dist && cp src/lambda.js dist/lambda.js"
                                                     " && cp src/lambda.js dist/functions.js"}},
                               indent=2),
    "package-lock.json": json.dumps({"name": "my-app", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                                     "packages": {"": {"name": "my-app", "version": "1.0.0"}}}, indent=2),
    "src/lambda.js": "exports.handler = async () => ({ statusCode: 200, body: 'ok' });\n",
}


def _package(work: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    result = subprocess.run(["bash", "scripts/package.sh"], cwd=work, env={**os.environ, "PACKAGE_BUILDER": "native", **env},
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, Path(result.stdout.strip())


# --- the generated files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_function_projects_pass_the_whole_harness(generate, target):
    assert_valid(generate(**_answers(target)))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_package_script_of_every_language_passes_shellcheck(generate, target, language):
    if target == "azure_functions" and language == "ruby":
        pytest.skip("refused by rules.py (no Ruby worker on Azure Functions): tests/test_rules.py")
    project = generate(**_answers(target, language))
    assert (project / "scripts" / "package.sh").is_file()
    assert_valid(project, only={"shell"})


def test_only_function_targets_get_a_package_script(generate):
    project = generate(**{**preset("production"), "preview_environments": "none"})
    assert not (project / "scripts" / "package.sh").exists()


# --- scripts/package.sh for real ----------------------------------------------------------------------------------


def test_lambda_python_package_has_the_handler_and_is_deterministic(generate, tmp_path):
    tool("zip")
    work = _copy(generate(**_answers("aws_lambda", "python")), tmp_path)
    _write(work, PYTHON_APP)
    sha = _commit(work)
    result, package = _package(work)
    assert package == work / "dist" / f"my-app-{sha}.zip", result.stdout
    first = package.read_bytes()
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    # the handler the catalog names (module app.lambda_handler, function handler) is at the path Lambda imports
    handler = _fact("python", "lambda_handler")
    module, function = handler.rsplit(".", 1)
    assert f"{module.replace('.', '/')}.py" in names and function == "handler"
    assert names == sorted(names), "entries are sorted"
    assert "app/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "dist/", "scripts/", "terraform/"))], names
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    # the unpacked package stays in dist/lambda (SST deploys that directory)
    assert (work / "dist" / "lambda" / "app" / "lambda_handler.py").is_file()

    # a second build of the same commit gives the same bytes
    package.unlink()
    shutil.rmtree(work / "dist" / "lambda")
    _, again = _package(work)
    assert again == package and again.read_bytes() == first


def test_lambda_node_package_has_the_build_output_and_production_modules(generate, tmp_path):
    tool("zip")
    tool("npm")
    work = _copy(generate(**_answers("aws_lambda", "node")), tmp_path)
    _write(work, NODE_APP)
    _, package = _package(work, PACKAGE_VERSION="v1")
    assert package.name == "my-app-v1.zip"
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    module = _fact("node", "lambda_handler").rsplit(".", 1)[0]
    assert f"{module}.js" in names and "package.json" in names and "package-lock.json" in names
    assert not [n for n in names if n.startswith(("dist/lambda/", "src/")) or n.endswith(".zip")], names
    first = package.read_bytes()
    package.unlink()
    _, again = _package(work, PACKAGE_VERSION="v1")
    assert again.read_bytes() == first


def test_functions_python_package_has_the_zip_deploy_layout(generate, tmp_path):
    tool("zip")
    work = _copy(generate(**_answers("azure_functions", "python")), tmp_path)
    _write(work, {**PYTHON_APP, "requirements.txt": "# azure-functions comes with the host\n"})
    _, package = _package(work, PACKAGE_VERSION="abc")
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        host = json.loads(archive.read("host.json"))
    assert {"host.json", "function_app.py", "requirements.txt", "app/__init__.py"} <= set(names)
    assert host["version"] == "2.0" and host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert (work / "dist" / "functions" / ".python_packages" / "lib" / "site-packages").is_dir()


def test_functions_node_package_keeps_the_repository_host_json(generate, tmp_path):
    tool("zip")
    tool("npm")
    work = _copy(generate(**_answers("azure_functions", "node")), tmp_path)
    _write(work, {**NODE_APP, "host.json": json.dumps({"version": "2.0", "functionTimeout": "00:05:00"})})
    _, package = _package(work, PACKAGE_VERSION="abc")
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        host = json.loads(archive.read("host.json"))
    assert host["functionTimeout"] == "00:05:00"
    assert {"host.json", "package.json", "dist/functions.js"} <= set(names)


def test_package_refuses_an_app_without_its_entry_point(generate, tmp_path):
    work = _copy(generate(**_answers("aws_lambda", "python")), tmp_path)
    _write(work, {"requirements.txt": ""})
    result = subprocess.run(["bash", "scripts/package.sh"], cwd=work, env={**os.environ, "PACKAGE_BUILDER": "native",
                            "PACKAGE_VERSION": "x"}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "app/lambda_handler.py is missing" in result.stderr
    assert result.stdout == ""


# --- scripts/deploy.sh against stub CLIs --------------------------------------------------------------------------

STUB = """#!/usr/bin/env bash
# Records its arguments (one JSON array per line) and answers like the real CLI would.
python3 -c 'import json, sys; print(json.dumps([sys.argv[1]] + sys.argv[2:]))' "$(basename "$0")" "$@" >>"$STUB_LOG"
case " $* " in
  *" update-function-code "*) printf '7\\n' ;;
  *" get-alias "*) printf '6\\n' ;;
  *" workspace list "*) printf '* default\\n' ;;
  *" describe-secret "*) printf 'v1\\tAWSCURRENT' ;;
esac
if [ "$(basename "$0")" = "curl" ]; then printf '200'; fi
exit 0
"""


def _stubs(tmp: Path) -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("aws", "az", "curl", "terraform"):
        path = bin_dir / name
        path.write_text(STUB, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    log = tmp / "calls.jsonl"
    log.write_text("", encoding="utf-8")
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log), "SMOKE_RETRIES": "1",
            "SMOKE_DELAY": "0", "CANARY_PAUSE_SECONDS": "0", "PACKAGE_BUILDER": "native"}


def _run(work: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = Path(env["STUB_LOG"])
    log.write_text("", encoding="utf-8")
    result = subprocess.run(["bash", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return result, [c for c in calls if c[0] != "curl"]


def test_lambda_deploy_without_a_package_builds_uploads_and_shifts_the_alias(generate, tmp_path):
    tool("zip")
    work = _copy(generate(**_answers("aws_lambda", "python")), tmp_path)
    _write(work, PYTHON_APP)
    sha = _commit(work)
    env = _stubs(tmp_path)
    result, calls = _run(work, env, "scripts/deploy.sh", "staging", "")
    assert result.returncode == 0, result.stdout + result.stderr
    key = f"{sha}.zip"
    package = work / "dist" / f"my-app-{sha}.zip"
    assert package.is_file()
    fn = ["--function-name", "my-app-staging"]
    assert calls[0] == ["aws", "s3", "cp", str(package), f"s3://my-app-staging-artifacts/{key}", "--only-show-errors"]
    assert calls[1] == ["aws", "lambda", "update-function-code", *fn, "--s3-bucket", "my-app-staging-artifacts", "--s3-key", key,
                        "--publish", "--query", "Version", "--output", "text"]
    assert calls[2] == ["aws", "lambda", "wait", "function-updated-v2", *fn, "--qualifier", "7"]
    assert calls[3][:3] == ["aws", "lambda", "get-alias"]
    # canary 10%, then all traffic on the new version
    assert calls[4] == ["aws", "lambda", "update-alias", *fn, "--name", "live", "--function-version", "6", "--routing-config",
                        '{"AdditionalVersionWeights": {"7": 0.10}}']
    assert calls[5] == ["aws", "lambda", "update-alias", *fn, "--name", "live", "--function-version", "7", "--routing-config", "{}"]
    assert len(calls) == 6

    # an explicit S3 key keeps working: no build, no upload
    result, calls = _run(work, env, "scripts/deploy.sh", "staging", "releases/1.2.3.zip")
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls[0][:3] == ["aws", "lambda", "update-function-code"] and calls[0][calls[0].index("--s3-key") + 1] == "releases/1.2.3.zip"
    assert not [c for c in calls if c[1] == "s3"]


def test_functions_deploy_without_a_package_builds_and_zip_deploys_to_the_slot(generate, tmp_path):
    tool("zip")
    work = _copy(generate(**_answers("azure_functions", "python")), tmp_path)
    _write(work, PYTHON_APP)
    sha = _commit(work)
    env = _stubs(tmp_path)
    result, calls = _run(work, env, "scripts/deploy.sh", "staging", "")
    assert result.returncode == 0, result.stdout + result.stderr
    package = work / "dist" / f"my-app-{sha}.zip"
    group = ["--resource-group", "rg-my-app-staging", "--name", "my-app-staging"]
    assert calls == [
        ["az", "functionapp", "deployment", "source", "config-zip", *group, "--slot", "staging", "--src", str(package), "--output", "none"],
        ["az", "functionapp", "deployment", "slot", "swap", *group, "--slot", "staging", "--target-slot", "production", "--output", "none"],
    ]


def test_lambda_preview_without_a_package_builds_it(generate, tmp_path):
    tool("zip")
    answers = _answers("aws_lambda", "python", preview_environments="full_stack")
    work = _copy(generate(**answers), tmp_path)
    _write(work, PYTHON_APP)
    sha = _commit(work)
    env = {**_stubs(tmp_path), "IMAGE": ""}
    result, calls = _run(work, env, "scripts/preview.sh", "up", "42")
    assert result.returncode == 0, result.stdout + result.stderr
    upload = next(c for c in calls if c[:3] == ["aws", "s3", "cp"])
    assert upload[3] == str(work / "dist" / f"my-app-{sha}.zip")
    key = upload[4].removeprefix("s3://my-app-pr-42-artifacts/")
    assert re.fullmatch(rf"previews/\d{{14}}-my-app-{sha}\.zip", key), key
    assert calls[-4][-2:] == ["-var", f"image={key}"]
    # a new commit of the pull request changes the code: deploy.sh publishes it and moves the alias
    fn = ["--function-name", "my-app-pr-42"]
    assert calls[-3] == ["aws", "lambda", "update-function-code", *fn, "--s3-bucket", "my-app-pr-42-artifacts", "--s3-key", key,
                         "--publish", "--query", "Version", "--output", "text"]
    assert calls[-1] == ["aws", "lambda", "update-alias", *fn, "--name", "live", "--function-version", "7", "--routing-config", "{}"]


# --- the facts live once ------------------------------------------------------------------------------------------


def test_no_template_hard_codes_a_lambda_runtime():
    runtimes = {_fact(lang, "lambda_runtime") for lang in LANGUAGES}
    for path in (ROOT / "template").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [r for r in runtimes if f"'{r}'" in text or f'"{r}"' in text], path


@pytest.mark.parametrize("language", ["python", "node", "go"])
@pytest.mark.parametrize("iac", ["terraform", "pulumi", "aws_cdk", "sst"])
def test_lambda_programs_use_the_catalog_runtime_and_handler(generate, iac, language):
    project = generate(**_answers("aws_lambda", language, iac_tool=iac))
    runtime, handler = _fact(language, "lambda_runtime"), _fact(language, "lambda_handler")
    architecture = load_catalog().fact("deploy_target", "aws_lambda", "lambda_architecture")
    if iac == "terraform":
        import hcl2

        mains = [p for p in (project / "terraform").rglob("main.tf") if "aws_lambda_function" in p.read_text(encoding="utf-8")]
        assert len(mains) == 1
        # python-hcl2 keeps the quotes of block labels and string literals
        resources = [{k.strip('"'): v for k, v in r.items()} for r in hcl2.loads(mains[0].read_text(encoding="utf-8"))["resource"]]
        function = next(iter(next(r["aws_lambda_function"] for r in resources if "aws_lambda_function" in r).values()))
        assert function["runtime"].strip('"') == runtime and function["handler"].strip('"') == handler
        assert [a.strip('"') for a in function["architectures"]] == [architecture]
        return
    text = "\n".join(p.read_text(encoding="utf-8") for p in (project / {"aws_cdk": "cdk"}.get(iac, iac)).rglob("*.ts")
                     if "node_modules" not in p.parts)
    if iac == "aws_cdk":
        assert f'new lambda.Runtime("{runtime}", lambda.RuntimeFamily.' in text
        assert f"lambda.Architecture.{architecture.upper()}" in text
    elif iac == "pulumi":
        assert f'runtime: "{runtime}"' in text and f'architectures: ["{architecture}"]' in text
    else:
        assert f'runtime: "{runtime}"' in text and f'architecture: "{architecture}"' in text
    assert f'handler: "{handler}"' in text


@pytest.mark.parametrize("language", ["node", "python", "java", "dotnet", "go"])
def test_functions_programs_use_the_catalog_worker(generate, language):
    worker, version = _fact(language, "functions_runtime"), _fact(language, "functions_version")
    terraform = generate(**_answers("azure_functions", language))
    main = next(p for p in (terraform / "terraform").rglob("main.tf") if "azurerm_linux_function_app" in p.read_text(encoding="utf-8"))
    text = main.read_text(encoding="utf-8")
    if worker == "custom":
        assert "use_custom_runtime = true" in text
    elif worker == "dotnet-isolated":
        assert f'dotnet_version              = "{version}"' in text and "use_dotnet_isolated_runtime = true" in text
    else:
        assert re.search(rf'{worker}_version += "{re.escape(version)}"', text)
    pulumi = generate(**_answers("azure_functions", language, iac_tool="pulumi"))
    program = "\n".join(p.read_text(encoding="utf-8") for p in (pulumi / "pulumi").rglob("*.ts") if "node_modules" not in p.parts)
    assert f'{{ name: "FUNCTIONS_WORKER_RUNTIME", value: "{worker}" }}' in program


# --- CI: every platform's deploy job can build the package -------------------------------------------------------
# (Travis CI deploys to no cloud: rules.py refuses it with aws/azure targets; its template would build in Docker.)

CI_CASES = {
    "github_actions": {},
    "gitlab_ci": {},
    "circleci": {},
    "jenkins": {"jenkins_url": "https://jenkins.example.com"},
    "azure_devops": {},
    "aws_codepipeline": {},
}


@pytest.mark.parametrize("platform", sorted(CI_CASES))
def test_every_ci_deploy_job_has_the_toolchain_of_the_package(generate, platform):
    language = "python"
    project = generate(**_answers("aws_lambda", language, ci_platform=platform, **CI_CASES[platform]))
    package = (project / "scripts" / "package.sh").read_text(encoding="utf-8")
    ci_image = _fact(language, "ci_image")
    if platform in ("github_actions", "azure_devops"):
        # VM runners with Docker: the package is built inside the language's CI image
        assert 'builder="${PACKAGE_BUILDER:-docker}"' in package and ci_image in package
    elif platform == "aws_codepipeline":
        spec = yaml.safe_load((project / "buildspec-deploy.yml").read_text(encoding="utf-8"))
        assert spec["phases"]["install"]["runtime-versions"] == {k: str(v) for k, v in _fact(language, "codebuild_runtime").items()}
        assert 'builder="${PACKAGE_BUILDER:-auto}"' in package
    else:
        # container jobs: the deploy job runs in the language's CI image, with the pinned cloud CLI installed
        config = {"gitlab_ci": ".gitlab-ci.yml", "circleci": ".circleci/config.yml", "jenkins": "Jenkinsfile"}[platform]
        text = (project / config).read_text(encoding="utf-8")
        assert ci_image in text and "awscli-exe-linux-x86_64-2.27.50.zip" in text
        assert load_catalog().fact("cloud_provider", "aws", "deploy_image") not in text
        assert 'builder="${PACKAGE_BUILDER:-auto}"' in package
    checks = {"github_actions": "github-actions", "gitlab_ci": "gitlab-ci", "circleci": "circleci", "jenkins": "jenkinsfile",
              "azure_devops": "azure-pipelines", "aws_codepipeline": "codepipeline"}
    assert_valid(project, only={"shell", checks[platform]})


def test_sst_deploy_jobs_build_the_package_before_the_apply(generate):
    from extensions.cicd_model import build_pipeline
    from extensions.docs_model import project_for

    catalog = load_catalog()
    sst = project_for(catalog, answers_of(generate(**_answers("aws_lambda", "python", iac_tool="sst")))).answers
    steps = build_pipeline(catalog, sst).deploy_steps
    assert steps[0].run == "bash scripts/package.sh" and steps[1].name.startswith("Apply infrastructure")
    terraform = project_for(catalog, answers_of(generate(**_answers("aws_lambda", "python")))).answers
    steps = build_pipeline(catalog, terraform).deploy_steps
    assert "bash scripts/package.sh" not in [s.run for s in steps]


def test_azure_functions_deploy_jobs_install_the_pinned_azure_cli(generate):
    # GitLab on Azure plans nothing through a federated identity: without generated IaC (rules.py)
    project = generate(**_answers("azure_functions", "node", ci_platform="gitlab_ci", iac_tool="manual", preview_environments="none"))
    text = (project / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert _fact("node", "ci_image") in text and "azure-cli==2.77.0" in text
    assert load_catalog().fact("cloud_provider", "azure", "deploy_image") not in text
    assert_valid(project, only={"shell", "gitlab-ci"})
