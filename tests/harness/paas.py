"""Platform configs: each file against its platform's schema (kept in schemas/infra, sources named
inside), Procfile and Nomad job structure, and `caddy validate` for the on-premises Caddyfile."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import hcl2

from .registry import Finding, check
from .tools import run, tool

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "infra"
SCHEMA_OF = {
    "railway.json": "railway.schema.json",
    "railway.worker.json": "railway.schema.json",
    "vercel.json": "vercel.schema.json",
    "app.json": "heroku-app.schema.json",
    "fly.toml": "fly.schema.json",
    "netlify.toml": "netlify.schema.json",
    "render.yaml": "render.schema.json",
}
PROCFILE_LINE = re.compile(r"^[a-z][a-z0-9_-]*: \S.*$")


@check("platform-schema", *SCHEMA_OF)
def platform_schema(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        code, out = run([tool("check-jsonschema"), "--schemafile", str(SCHEMAS / SCHEMA_OF[path.name]), str(path)])
        if code:
            found.append(Finding("check-jsonschema", path.name, out))
    return found


@check("procfile", "Procfile")
def procfile(root: Path, files: list[Path]) -> list[Finding]:
    lines = [line for line in files[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [line for line in lines if not PROCFILE_LINE.match(line)]
    found = [Finding("procfile", "Procfile", f"not '<process>: <command>': {line!r}") for line in bad]
    if not any(line.startswith("web: ") for line in lines):
        found.append(Finding("procfile", "Procfile", "no web process"))
    return found


@check("nomad-job", "nomad/*.nomad.hcl")
def nomad_job(root: Path, files: list[Path]) -> list[Finding]:
    """HCL syntax (python-hcl2) and the job's shape: groups with tasks, an update block, health checks."""
    found: list[Finding] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            parsed = hcl2.loads(path.read_text(encoding="utf-8"))
        except Exception as error:  # the parser's message is the finding
            found.append(Finding("python-hcl2", rel, str(error)))
            continue
        jobs = parsed.get("job", [])
        if len(jobs) != 1:
            found.append(Finding("nomad-job", rel, "exactly one job block expected"))
            continue
        job = next(iter(jobs[0].values()))
        groups = {name: body for group in job.get("group", []) for name, body in group.items()}
        if '"web"' not in groups and "web" not in groups:
            found.append(Finding("nomad-job", rel, "no web group"))
        if not job.get("update"):
            found.append(Finding("nomad-job", rel, "no update block (rolling/canary deployments)"))
        for name, group in groups.items():
            if not group.get("task"):
                found.append(Finding("nomad-job", rel, f"group {name} has no task"))
    return found


@check("caddy", "*Caddyfile")
def caddyfile(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        with tempfile.TemporaryDirectory() as home:
            code, out = run(
                [tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(path)],
                env={"APP_HOST": "app.example.com", "ACME_EMAIL": "ops@example.com", "HOME": home, "XDG_DATA_HOME": home,
                     "XDG_CONFIG_HOME": home},
            )
        if code:
            found.append(Finding("caddy validate", path.relative_to(root).as_posix(), out))
    return found
