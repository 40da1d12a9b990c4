"""One image name: what CI pushes is what the manifests and Terraform deploy (GHCR and Docker Hub use the repository's owner)."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import fit_previews, preset


@pytest.mark.parametrize("registry, host", [("ghcr", "ghcr.io"), ("dockerhub", "docker.io")])
def test_ci_pushes_the_image_the_chart_deploys(generate, registry, host):
    answers = fit_previews({**preset("enterprise"), "k8s_distribution": "self_managed", "container_registry": registry,
                            "iac_tool": "manual", "secrets_manager": "vault", "repository": "Acme-Org/shop",
                            "ci_platform": "gitlab_ci", "notifications": ["slack"]})
    project = generate(**answers)
    slug = yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    values = yaml.safe_load((project / "helm" / slug / "values.yaml").read_text())
    assert values["image"]["repository"] == f"{host}/acme-org/{slug}"
    pushed = re.search(r'IMAGE: "([^":]+):\$\{CI_COMMIT_SHA\}"', (project / ".gitlab-ci.yml").read_text())
    assert pushed and pushed.group(1) == values["image"]["repository"]
    assert "REGISTRY_NAMESPACE" not in (project / ".gitlab-ci.yml").read_text()
