"""Code-based IaC programs (Pulumi TypeScript; AWS CDK and SST reuse the helpers).

Every program is type-checked by ``tsc`` against the exact SDK versions the generated package.json
pins (installed in .ci/node-iac by .ci/install.d/iac.sh), then compiled and run by node with the
Pulumi SDK's mocks once per stack: each environment's Pulumi.<env>.yaml and a ``pr-1`` preview
stack with nothing but Pulumi.yaml's defaults and the image. No cloud is called.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .registry import Finding, check
from .tools import REPO, missing, run, tool

NODE_MODULES = REPO / ".ci" / "node-iac" / "node_modules"
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# config.get("key"), config.requireNumber("key"), ...: the keys a Pulumi program reads.
CONFIG_READ = re.compile(r"\bconfig\.(get|require)(Number|Boolean|Object|Secret(?:Number|Boolean|Object)?)?\(\"([A-Za-z0-9_]+)\"")
YAML_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "boolean": bool}
PREVIEW_STACK = "pr-1"
PREVIEW_IMAGE = "registry.example.com/app:pr-1"

# Runs the compiled program with the Pulumi SDK's mocks: resources are recorded, never created.
MOCK_RUNNER = r"""
const pulumi = require("@pulumi/pulumi");
const [project, stack, configJson, entry] = process.argv.slice(2);
pulumi.runtime.setAllConfig(JSON.parse(configJson), []);
const resources = [];
const failures = [];
const OUTPUTS = {
  "aws:index/getAvailabilityZones:getAvailabilityZones": { names: ["zone-a", "zone-b", "zone-c"], zoneIds: ["z1", "z2", "z3"] },
  "aws:index/getCallerIdentity:getCallerIdentity": { accountId: "123456789012", arn: "arn:aws:iam::123456789012:root", userId: "mock" },
  "aws:index/getRegion:getRegion": { region: "us-east-1", name: "us-east-1" },
  "azure-native:authorization:getClientConfig": {
    tenantId: "tenant", subscriptionId: "subscription", objectId: "object", clientId: "client",
  },
};
pulumi.runtime.setMocks({
  newResource: (args) => {
    resources.push(args.type);
    const state = { ...args.inputs, arn: `arn:mock:${args.type}:${args.name}`, name: args.inputs.name ?? args.name };
    return { id: `${args.name}-id`, state };
  },
  call: (args) => ({ ...args.inputs, ...(OUTPUTS[args.token] || {}) }),
}, project, stack, false);
process.on("unhandledRejection", (error) => failures.push(String(error && error.stack || error)));
process.on("uncaughtException", (error) => failures.push(String(error && error.stack || error)));
try {
  require(entry);
} catch (error) {
  failures.push(String(error && error.stack || error));
}
process.on("beforeExit", () => {
  process.stdout.write(JSON.stringify({ resources, failures }));
  process.exit(failures.length ? 1 : 0);
});
"""


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


@contextmanager
def program_copy(directory: Path) -> Iterator[Path]:
    """A scratch copy of a generated program with .ci/node-iac's node_modules linked in (the tree stays read-only)."""
    if not NODE_MODULES.is_dir():
        missing("node-iac packages (.ci/install.d/iac.sh)")
    with tempfile.TemporaryDirectory(prefix="iac-program-") as scratch:
        copy = Path(scratch) / directory.name
        shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("node_modules", "bin"))
        (copy / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
        yield copy


def compile_program(root: Path, directory: Path, copy: Path, out_dir: str | None = None) -> list[Finding]:
    """tsc with the program's own tsconfig.json: type errors against the real SDK types are findings.

    ``out_dir`` (relative to the copy) emits JavaScript there; without it tsc only type-checks.
    """
    args = [tool("tsc"), "--pretty", "false", "-p", str(copy)]
    args += ["--outDir", str(copy / out_dir)] if out_dir else ["--noEmit"]
    code, out = run(args, cwd=copy, timeout=900)
    if code == 0:
        return []
    label = _rel(root, directory)
    return [Finding("tsc", label, line.replace(str(copy), label)) for line in out.splitlines() if line.strip()] or [
        Finding("tsc", label, f"tsc exited {code}")
    ]


def installed_version(package: str) -> str:
    manifest = NODE_MODULES / package / "package.json"
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"]) if manifest.exists() else ""


def check_pins(root: Path, path: Path, dependencies: dict[str, str], dev_dependencies: dict[str, str]) -> list[Finding]:
    """package.json pins exactly the catalog's versions, and they are the versions tsc checked against."""
    found: list[Finding] = []
    label = _rel(root, path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        return [Finding("package.json", label, f"invalid JSON: {error}")]
    for section, expected in (("dependencies", dependencies), ("devDependencies", dev_dependencies)):
        actual = manifest.get(section, {})
        if actual != expected:
            found.append(Finding("package.json", label, f"{section} {actual} differ from the catalog's pins {expected}"))
        for name, version in actual.items():
            if not EXACT_VERSION.match(str(version)):
                found.append(Finding("package.json", label, f"{name} {version} is not an exact version"))
            elif installed_version(name) and installed_version(name) != version:
                found.append(Finding("package.json", label, f"{name} {version} is pinned but .ci/node-iac has "
                                                            f"{installed_version(name)}: run .ci/install.d/iac.sh"))
    return found


def check_tsconfig(root: Path, path: Path) -> list[Finding]:
    try:
        options = json.loads(path.read_text(encoding="utf-8")).get("compilerOptions", {})
    except ValueError as error:
        return [Finding("tsconfig", _rel(root, path), f"invalid JSON: {error}")]
    return [] if options.get("strict") is True else [Finding("tsconfig", _rel(root, path), "compilerOptions.strict must be true")]


def check_ignored(root: Path, path: Path, names: list[str]) -> list[Finding]:
    """git itself ignores the program's dependencies and build output."""
    found: list[Finding] = []
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(path, Path(scratch) / ".gitignore")
        subprocess.run(["git", "init", "-q"], cwd=scratch, check=True)
        for name in names:
            proc = subprocess.run(["git", "check-ignore", "--no-index", "-q", name], cwd=scratch, check=False)
            if proc.returncode != 0:
                found.append(Finding("gitignore", _rel(root, path), f"{name} is not ignored by git"))
    return found


def _answers(root: Path) -> dict[str, Any]:
    data = yaml.safe_load((root / ".copier-answers.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def config_reads(directory: Path) -> dict[str, bool]:
    """Config keys the program reads -> whether some read requires the key."""
    reads: dict[str, bool] = {}
    for source in sorted(directory.rglob("*.ts")):
        if "node_modules" in source.parts:
            continue
        for kind, _, key in CONFIG_READ.findall(source.read_text(encoding="utf-8")):
            reads[key] = reads.get(key, False) or kind == "require"
    return reads


def pulumi_stacks(root: Path, directory: Path, environments: list[str]) -> tuple[list[Finding], dict[str, dict[str, Any]]]:
    """Pulumi.yaml's schema against the keys the program reads and every stack file's values.

    Returns the findings and, per stack (each environment and the pr-1 preview), the full config the
    Pulumi CLI would hand the program (project defaults overlaid with the stack's values).
    """
    found: list[Finding] = []
    project_file = directory / "Pulumi.yaml"
    label = _rel(root, project_file)
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    name = project.get("name", "")
    runtime = project.get("runtime", {})
    if runtime.get("name") != "nodejs" or runtime.get("options", {}).get("typescript") is not True:
        found.append(Finding("pulumi-config", label, f"runtime must be nodejs with typescript: {runtime}"))
    schema: dict[str, dict[str, Any]] = project.get("config", {})
    reads = config_reads(directory)
    for key in sorted(set(reads) - set(schema)):
        found.append(Finding("pulumi-config", label, f"the program reads {key}, which Pulumi.yaml does not declare"))
    for key in sorted(set(schema) - set(reads)):
        found.append(Finding("pulumi-config", label, f"Pulumi.yaml declares {key}, which the program never reads"))
    for key, spec in schema.items():
        expected = YAML_TYPES.get(spec.get("type", ""))
        if expected is None:
            found.append(Finding("pulumi-config", label, f"{key}: unknown type {spec.get('type')}"))
        elif "default" in spec and not _typed(spec["default"], spec["type"]):
            found.append(Finding("pulumi-config", label, f"{key}: default {spec['default']!r} is not a {spec['type']}"))
    expected_files = {f"Pulumi.{env}.yaml" for env in environments}
    actual_files = {p.name for p in directory.glob("Pulumi.*.yaml")}
    if actual_files != expected_files:
        found.append(Finding("pulumi-config", _rel(root, directory), f"stack files {sorted(actual_files)} != {sorted(expected_files)}"))
    defaults = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    configs: dict[str, dict[str, Any]] = {}
    for env in environments:
        path = directory / f"Pulumi.{env}.yaml"
        if not path.exists():
            continue
        values = yaml.safe_load(path.read_text(encoding="utf-8")).get("config", {}) or {}
        stack: dict[str, Any] = {}
        for full_key, value in values.items():
            namespace, _, key = str(full_key).partition(":")
            if namespace != name or key not in schema:
                found.append(Finding("pulumi-config", _rel(root, path), f"{full_key} is not a key Pulumi.yaml declares for {name}"))
            elif not _typed(value, schema[key]["type"]):
                found.append(Finding("pulumi-config", _rel(root, path), f"{full_key}: {value!r} is not a {schema[key]['type']}"))
            else:
                stack[key] = value
        for key in sorted(set(schema) - set(defaults) - set(stack)):
            found.append(Finding("pulumi-config", _rel(root, path), f"{key} has no default in Pulumi.yaml and no value here"))
        # Keys an operator sets once per stack (their description says how) get a value, as after that step.
        operator = {key: f"https://{key.lower()}.example.com/" if key.endswith("Url") else f"operator-{key}"
                    for key, spec in schema.items() if f"pulumi config set {key}" in spec.get("description", "")}
        configs[env] = {**defaults, **operator, **stack}
    # A preview stack has no file: the defaults, plus the image its CI job sets (pulumi config set image).
    preview = {**defaults, **({"image": PREVIEW_IMAGE} if "image" in schema else {})}
    for key in sorted(set(schema) - set(preview)):
        found.append(Finding("pulumi-config", label, f"a {PREVIEW_STACK} preview stack has no value for {key}: give it a default"))
    configs[PREVIEW_STACK] = preview
    docs = root / "docs" / "infrastructure.md"
    text = docs.read_text(encoding="utf-8") if docs.exists() else ""
    for key, spec in schema.items():
        if f"pulumi config set {key}" in spec.get("description", "") and f"pulumi config set {key}" not in text:
            found.append(Finding("pulumi-config", label, f"docs/infrastructure.md must tell operators to run pulumi config set {key}"))
    return found, configs


def _typed(value: Any, type_name: str) -> bool:
    expected = YAML_TYPES.get(type_name, object)
    return isinstance(value, expected) and not (type_name == "integer" and isinstance(value, bool))


def run_with_mocks(copy: Path, entry: str, project: str, stack: str, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Run the compiled program (``entry``, relative to the copy) under the SDK's mocks: (resource types, failures)."""
    runner = copy / "mock-runner.js"
    runner.write_text(MOCK_RUNNER, encoding="utf-8")
    flat = {f"{project}:{key}": json.dumps(value) if not isinstance(value, str) else value for key, value in config.items()}
    code, out = run([tool("node"), str(runner), project, stack, json.dumps(flat), str(copy / entry)], cwd=copy, timeout=300)
    try:
        report = json.loads(out.splitlines()[-1]) if out else {}
    except ValueError:
        report = {}
    if not report:
        return [], [out[-3000:] or f"node exited {code}"]
    return list(report["resources"]), list(report["failures"])


Registered = dict[str, list[str]]
# Resource types each stack of a checked program registered, by program directory (trees are read-only).
REGISTERED: dict[Path, Registered] = {}


def pulumi_program(root: Path, directory: Path, catalog: Any, cloud: str, environments: list[str]) -> tuple[list[Finding], Registered]:
    """Every check of one generated Pulumi program; also returns the resource types each stack registers."""
    facts = catalog.option("iac_tool", "pulumi").facts
    dependencies = {**facts["dependencies"], **facts["sdk"][cloud]}
    found = check_pins(root, directory / "package.json", dependencies, facts["dev_dependencies"])
    found += check_tsconfig(root, directory / "tsconfig.json")
    found += check_ignored(root, directory / ".gitignore", ["node_modules/x.js", "bin/index.js"])
    stack_findings, configs = pulumi_stacks(root, directory, environments)
    found += stack_findings
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    registered: Registered = {}
    with program_copy(directory) as copy:
        compiled = compile_program(root, directory, copy, out_dir="bin")
        found += compiled
        if compiled:
            return found, registered
        for stack, config in configs.items():
            resources, failures = run_with_mocks(copy, "bin/index.js", project, stack, config)
            registered[stack] = resources
            found += [Finding("pulumi-mocks", _rel(root, directory), f"stack {stack}: {failure}") for failure in failures]
    return found, registered


@check("pulumi", "pulumi/*.ts", "pulumi/*.json", "pulumi/*.yaml", "pulumi/.gitignore")
def pulumi(root: Path, files: list[Path]) -> list[Finding]:
    from extensions.answers import cloud_provider
    from extensions.catalog import load_catalog

    catalog = load_catalog()
    answers = _answers(root)
    environments = [env for env in answers["environments"] if env != "development"]
    found, REGISTERED[root / "pulumi"] = pulumi_program(root, root / "pulumi", catalog, cloud_provider(catalog, answers), environments)
    return found


# --- AWS CDK (cdk/) and SST (sst/) ------------------------------------------------------------

TEST_ACCOUNT = "123456789012"
TEST_ZONE_ID = "Z0123456789ABCDEFGHIJ"
CDK_PREVIEW_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:pr-1"
# cfn-lint rules we skip on synthesized templates, each with the reason a reviewer would accept.
CFN_LINT_SKIPS = {
    "W3005": "aws-cdk-lib's own custom-resource providers (restrictDefaultSecurityGroup, autoDeleteObjects) "
             "declare a DependsOn that a GetAtt already implies",
}
# SST's platform sources import providers and tools (@pulumi/cloudflare, esbuild, ...) that only
# `bun install` brings, which needs a download: their errors are SST's, not the program's.
SST_CONFIG_D_TS = REPO / "tests" / "harness" / "schemas" / "sst" / "config.d.ts"
_CDK_SYNTH: dict[Path, tuple[list[Finding], dict[str, dict[str, Any]]]] = {}


def _scratch_copy(directory: Path, scratch: Path, ignore: tuple[str, ...]) -> Path:
    copy = scratch / directory.name
    shutil.copytree(directory, copy, ignore=shutil.ignore_patterns(*ignore))
    (copy / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    return copy


def _cdk_context(root: Path) -> dict[str, Any]:
    """What `cdk synth` records in cdk.context.json after its first run with credentials (hosted zone, zones)."""
    from extensions.catalog import load_catalog

    answers = _answers(root)
    region = load_catalog().fact("cloud_provider", "aws", "default_region")
    domain = answers["domain"]
    zone = {"Id": f"/hostedzone/{TEST_ZONE_ID}", "Name": f"{domain}."}
    return {
        f"hosted-zone:account={TEST_ACCOUNT}:domainName={domain}:region={region}": zone,
        f"availability-zones:account={TEST_ACCOUNT}:region={region}": [f"{region}a", f"{region}b", f"{region}c"],
        # what an operator passes once (-c or cdk.json) for the CI trust's operator-set parts (lib/config.ts ciTrust)
        "jenkinsUrl": "https://jenkinsurl.example.com/", "ciOrganizationId": "operator-ciOrganizationId",
        "circleciProjectId": "operator-circleciProjectId",
    }


def _synth(copy: Path, label: str, out: str, extra: list[str]) -> tuple[list[Finding], dict[str, dict[str, Any]]]:
    """`cdk synth --strict` (warnings fail) into ``out``: findings and the templates by stack name."""
    env = {"CDK_DEFAULT_ACCOUNT": TEST_ACCOUNT, "CDK_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "CDK_DISABLE_VERSION_CHECK": "1", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    # The app tsc compiled once (cdk.json's app command compiles first, then runs the same file).
    args = [tool("cdk"), "synth", "--app", "node dist/bin/app.js", "--strict", "--ci", "--no-notices", "--quiet", "--output", out, *extra]
    code, output = run(args, cwd=copy, env=env, timeout=900)
    if code != 0:
        return [Finding("cdk-synth", label, line) for line in output.splitlines()[-40:] if line.strip()], {}
    manifest = json.loads((copy / out / "manifest.json").read_text(encoding="utf-8"))
    templates: dict[str, dict[str, Any]] = {}
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") == "aws:cloudformation:stack":
            stack = artifact.get("properties", {}).get("stackName") or artifact["displayName"]
            templates[stack] = json.loads((copy / out / artifact["properties"]["templateFile"]).read_text(encoding="utf-8"))
    missing_context = [m["key"] for m in manifest.get("missing", [])]
    if missing_context:
        return [Finding("cdk-synth", label, f"lookups missing from cdk.context.json: {missing_context}")], templates
    return [], templates


def _cfn_lint(copy: Path, label: str, out: str) -> list[Finding]:
    templates = sorted((copy / out).glob("*.template.json"))
    if not templates:
        return []
    # Our pinned cfn-lint (.ci/install.d/iac.sh), not the older one checkov depends on: CloudFormation schemas move fast.
    pinned = REPO / ".ci" / "venvs" / "cfn-lint" / "bin" / "cfn-lint"
    binary = str(pinned) if pinned.exists() else tool("cfn-lint")
    args = [binary, "--format", "parseable", "--ignore-checks", *CFN_LINT_SKIPS, "--", *map(str, templates)]
    code, output = run(args, cwd=copy, timeout=600)
    if code == 0:
        return []
    return [Finding("cfn-lint", label, line.replace(str(copy / out) + "/", "")) for line in output.splitlines() if line.strip()]


def cdk_program(root: Path) -> tuple[list[Finding], dict[str, dict[str, Any]]]:
    """Every check of the generated CDK app: pins, strict tsc, `cdk synth` of every environment and of a
    pr-1 preview (offline: lookups come from a cdk.context.json like the one the first real synth commits),
    and cfn-lint on each CloudFormation template. Returns the findings and the templates by stack name."""
    directory = root / "cdk"
    if directory in _CDK_SYNTH:
        return _CDK_SYNTH[directory]
    from extensions.catalog import load_catalog

    facts = load_catalog().option("iac_tool", "aws_cdk").facts
    label = _rel(root, directory)
    found = check_pins(root, directory / "package.json", facts["dependencies"], facts["dev_dependencies"])
    found += check_tsconfig(root, directory / "tsconfig.json")
    found += check_ignored(root, directory / ".gitignore", ["node_modules/x.js", "dist/bin/app.js", "cdk.out/manifest.json"])
    templates: dict[str, dict[str, Any]] = {}
    if not NODE_MODULES.is_dir():
        missing("node-iac packages (.ci/install.d/iac.sh)")
    with tempfile.TemporaryDirectory(prefix="cdk-program-") as scratch:
        copy = _scratch_copy(directory, Path(scratch), ("node_modules", "dist", "cdk.out"))
        (copy / "cdk.context.json").write_text(json.dumps(_cdk_context(root), indent=2), encoding="utf-8")
        compiled = compile_program(root, directory, copy, out_dir="dist")
        found += compiled
        if not compiled:
            for out, extra in (("cdk.out", []), ("cdk.out.preview", ["-c", "stage=pr-1", "-c", f"image={CDK_PREVIEW_IMAGE}"])):
                synth_findings, synthesized = _synth(copy, label, out, extra)
                found += synth_findings
                templates.update(synthesized)
                found += _cfn_lint(copy, label, out) if not synth_findings else []
    _CDK_SYNTH[directory] = (found, templates)
    return found, templates


@check("aws-cdk", "cdk/*")
def aws_cdk(root: Path, files: list[Path]) -> list[Finding]:
    return cdk_program(root)[0]


def sst_program(root: Path) -> list[Finding]:
    """The generated SST app: pins, and tsc of sst.config.ts against SST's real component sources.

    `sst install` (SST_SKIP_DEPENDENCY_CHECK: no Pulumi or Bun download) extracts the platform sources
    from the CLI binary into .sst/platform, then stops at `bun install`. SST would then generate
    .sst/platform/config.d.ts: the harness writes that declaration itself (tests/harness/schemas/sst).
    Only diagnostics in sst.config.ts count; see README.md for what this does and does not prove.
    """
    from extensions.catalog import load_catalog

    directory = root / "sst"
    label = _rel(root, directory)
    facts = load_catalog().option("iac_tool", "sst").facts
    found = check_pins(root, directory / "package.json", facts["dependencies"], facts["dev_dependencies"])
    found += check_tsconfig(root, directory / "tsconfig.json")
    found += check_ignored(root, directory / ".gitignore", ["node_modules/x.js", ".sst/platform/version"])
    if not NODE_MODULES.is_dir():
        missing("node-iac packages (.ci/install.d/iac.sh)")
    with tempfile.TemporaryDirectory(prefix="sst-program-") as scratch:
        copy = _scratch_copy(directory, Path(scratch), ("node_modules", ".sst"))
        env = {"SST_SKIP_DEPENDENCY_CHECK": "1", "SST_STAGE": "ci", "SST_TELEMETRY_DISABLED": "1", "HOME": scratch}
        _, output = run([str(copy / "node_modules" / ".bin" / "sst"), "install"], cwd=copy, env=env, timeout=300)
        platform = copy / ".sst" / "platform"
        if not (platform / "src" / "components" / "aws" / "service.ts").exists():
            return [*found, Finding("sst", label, f"`sst install` did not extract the platform sources: {output[-500:]}")]
        shutil.copy(SST_CONFIG_D_TS, platform / "config.d.ts")
        (platform / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
        _, output = run([tool("tsc"), "--pretty", "false", "-p", str(copy), "--noEmit"], cwd=copy, timeout=900)
        found += [Finding("tsc", label, line.replace(str(copy), label)) for line in output.splitlines() if line.startswith("sst.config.ts")]
    return found


@check("sst", "sst/*")
def sst(root: Path, files: list[Path]) -> list[Finding]:
    return sst_program(root)
