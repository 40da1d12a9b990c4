"""OpenTelemetry Collector, Loki, Promtail, Tempo and Fluent Bit configurations against the schemas we keep.

No validator of these configurations is installable offline, so tests/harness/schemas/monitoring/ holds
JSON schemas of the keys we generate, each following the upstream configuration reference it names, and
harness/monitoring.py adds the cross-field rules the servers enforce at startup. These tests prove the
generated files pass and that the check rejects the mistakes it exists for.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import validate_tree

CHECK = {"monitoring-configs"}


@pytest.fixture(scope="module")
def loki_tempo(generate) -> Path:
    return generate(tier="production", deploy_target="on_prem_compose", metrics="prometheus_grafana", logging="loki",
                    tracing="tempo", apm="opentelemetry", database="postgresql", has_worker=True)


@pytest.fixture(scope="module")
def elk_jaeger(generate) -> Path:
    return generate(tier="production", deploy_target="on_prem_compose", metrics="prometheus_grafana", logging="elk",
                    tracing="jaeger", apm="opentelemetry", database="mysql")


def findings(project: Path) -> list[str]:
    return [str(f) for f in validate_tree(project, CHECK)]


def test_generated_configurations_pass(loki_tempo: Path, elk_jaeger: Path) -> None:
    for project, files in ((loki_tempo, ["otel/otel-collector.yaml", "loki/loki.yaml", "promtail/promtail.yaml", "tempo/tempo.yaml"]),
                           (elk_jaeger, ["otel/otel-collector.yaml", "fluent-bit/fluent-bit.yaml"])):
        assert all((project / "monitoring" / f).is_file() for f in files)
        assert findings(project) == []


def _mutated(source: Path, tmp_path: Path, file: str, change: Any) -> list[str]:
    copy = tmp_path / "project"
    directory = file.split("/")[0]  # only the mutated configuration: one validator run per case
    shutil.copytree(source / "monitoring" / directory, copy / "monitoring" / directory)
    path = copy / "monitoring" / file
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(config)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return findings(copy)


@pytest.mark.parametrize(("file", "change", "expected"), [
    ("otel/otel-collector.yaml", lambda c: c["processors"]["memory_limiter"].update(limit_percentag=80), "check-jsonschema"),
    ("otel/otel-collector.yaml", lambda c: c["service"]["pipelines"]["traces"].update(exporters=["otlp/tempo"]),
     "uses exporter otlp/tempo, which is not defined"),
    ("loki/loki.yaml", lambda c: c["schema_config"]["configs"][0].update(store="boltdb-shipper"), "needs store tsdb"),
    ("loki/loki.yaml", lambda c: c["compactor"].pop("delete_request_store"), "needs compactor.delete_request_store"),
    ("loki/loki.yaml", lambda c: c["limits_config"].update(retention_period="30 days"), "check-jsonschema"),
    ("promtail/promtail.yaml", lambda c: c["clients"][0].update(url="http://loki:3100/api/push"), "check-jsonschema"),
    ("tempo/tempo.yaml", lambda c: c["storage"]["trace"].update(backend="s3"), "has no storage.trace.s3 block"),
    ("tempo/tempo.yaml", lambda c: c["storage"]["trace"].update(wall=c["storage"]["trace"].pop("wal")), "check-jsonschema"),
])
def test_loki_tempo_mistakes_are_rejected(loki_tempo: Path, tmp_path: Path, file: str, change: Any, expected: str) -> None:
    problems = _mutated(loki_tempo, tmp_path, file, change)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["pipeline"]["outputs"][0].update(match="app.*"), "which no input's tag produces"),
    (lambda c: c["pipeline"]["outputs"][0].update(http_password="x"), "check-jsonschema"),
    (lambda c: c["pipeline"]["inputs"][0].pop("path"), "check-jsonschema"),
])
def test_fluent_bit_mistakes_are_rejected(elk_jaeger: Path, tmp_path: Path, change: Any, expected: str) -> None:
    problems = _mutated(elk_jaeger, tmp_path, "fluent-bit/fluent-bit.yaml", change)
    assert any(expected in p for p in problems), problems
