"""Kubernetes files: Kustomize builds, raw manifests, the Helm chart and GitOps resources.

Built-in kinds go through `kubernetes-validate --strict`; custom resources (Argo Rollouts,
Istio, cert-manager, External Secrets, Cilium, Argo CD, Flux) through their published CRD
schemas (npm @kubernetes-models/*, see schemas/infra/validate_crds.js).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .registry import Finding, check
from .tools import REPO, run, tool

HERE = Path(__file__).resolve().parent
CRD_VALIDATOR = HERE / "schemas" / "infra" / "validate_crds.js"
NODE_MODULES = REPO / ".ci" / "node" / "node_modules"

Document = tuple[str, dict[str, Any]]  # (where it came from, the resource)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def is_builtin(doc: dict[str, Any]) -> bool:
    group = str(doc.get("apiVersion", "")).rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def load_documents(text: str, where: str) -> list[Document]:
    return [(where, doc) for doc in yaml.safe_load_all(text) if doc]


def validate_documents(documents: list[Document]) -> list[Finding]:
    """Every resource against its schema: built-in kinds strictly, custom resources by their CRD."""
    found: list[Finding] = []
    builtin = [(where, doc) for where, doc in documents if is_builtin(doc)]
    custom = [{"file": where, "doc": doc} for where, doc in documents if not is_builtin(doc)]
    if builtin:
        with tempfile.TemporaryDirectory() as scratch:
            paths = []
            for n, (where, doc) in enumerate(builtin):
                path = Path(scratch) / f"{n:04d}-{where.replace('/', '_')}.yaml"
                path.write_text(yaml.safe_dump(doc), encoding="utf-8")
                paths.append(str(path))
            code, out = run([tool("kubernetes-validate"), "--strict", "--quiet", *paths])
            if code:
                found.append(Finding("kubernetes-validate", "", out))
    if custom:
        proc_code, out = _node(custom)
        if proc_code:
            found.append(Finding("crd-schema", "", out))
    return found


def _node(custom: list[dict[str, Any]]) -> tuple[int, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(custom, handle)
    code, out = run(["bash", "-c", f'node "{CRD_VALIDATOR}" "{NODE_MODULES}" < "{handle.name}"'])
    Path(handle.name).unlink()
    return code, out


def kustomize_build(overlay: Path) -> tuple[int, str]:
    return run(["kubectl", "kustomize", str(overlay)])


@check("kubernetes-manifests", "k8s/*")
def kubernetes_manifests(root: Path, files: list[Path]) -> list[Finding]:
    """Raw manifests as written; Kustomize overlays as `kubectl kustomize` builds them."""
    found: list[Finding] = []
    documents: list[Document] = []
    for path in files:
        rel = _rel(root, path)
        if rel.startswith(("k8s/base/", "k8s/overlays/")):
            if path.name == "kustomization.yaml" and rel.startswith("k8s/overlays/"):
                code, out = kustomize_build(path.parent)
                if code:
                    found.append(Finding("kubectl kustomize", rel, out))
                else:
                    documents += load_documents(out, rel)
            continue
        documents += load_documents(path.read_text(encoding="utf-8"), rel)
    return found + validate_documents(documents)


@check("gitops", "gitops/*")
def gitops(root: Path, files: list[Path]) -> list[Finding]:
    documents: list[Document] = []
    for path in files:
        documents += load_documents(path.read_text(encoding="utf-8"), _rel(root, path))
    return validate_documents(documents)


@check("helm", "helm/*")
def helm_chart(root: Path, files: list[Path]) -> list[Finding]:
    """`helm lint` and `helm template` (helm-python-sdk) with each environment's values."""
    from helm_python import Chart, lint

    found: list[Finding] = []
    for chart_file in [f for f in files if f.name == "Chart.yaml"]:
        chart_dir = chart_file.parent
        rel = _rel(root, chart_dir)
        documents: list[Document] = []
        for values_file in sorted(chart_dir.glob("values-*.yaml")):
            values = yaml.safe_load(values_file.read_text(encoding="utf-8")) or {}
            report = lint(str(chart_dir), values, strict=True)
            # severity 0 unknown, 1 info, 2 warning, 3 error; strict lint fails on warnings too
            problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
            if problems:
                found.append(Finding("helm lint", f"{rel} + {values_file.name}", json.dumps(problems)))
            try:
                rendered = Chart.load(str(chart_dir)).render(values, name=chart_dir.name, namespace=values_file.stem)
            except Exception as error:  # the renderer's message is the finding
                found.append(Finding("helm template", f"{rel} + {values_file.name}", str(error)))
                continue
            for template, text in sorted(rendered.items()):
                if template.endswith(".yaml") and text.strip():
                    documents += load_documents(text, f"{template} ({values_file.name})")
        if not documents:
            found.append(Finding("helm template", rel, "renders no resources"))
        found += validate_documents(documents)
    return found
