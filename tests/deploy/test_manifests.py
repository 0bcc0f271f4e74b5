"""deploy/: every service has an image target, a healthcheck, probes, limits and autoscaling.

The files' own validators (`docker-compose config`, `kubectl kustomize`) run in
`make deploy-check`; these tests check what those tools do not: that nothing was
forgotten for one service.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
SERVICES = ["ingest", "mapper", "poster", "errors"]


def _k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s/base/kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / "k8s/base" / resource).read_text()) if d]
    return docs


class TestDockerfile:
    @pytest.mark.parametrize("service", [*SERVICES, "qbo-sandbox"])
    def test_each_service_has_a_target_running_its_module(self, service: str) -> None:
        text = (DEPLOY / "Dockerfile").read_text()
        module = "qbsync_sandbox" if service == "qbo-sandbox" else f"qbsync_{service}"
        match = re.search(rf"FROM runtime AS {service}\nCMD \[([^\]]+)\]", text)
        assert match, service
        assert f'"{module}"' in match.group(1)

    def test_dependencies_are_installed_before_the_source_is_copied(self) -> None:
        text = (DEPLOY / "Dockerfile").read_text()
        assert text.index("--no-install-workspace") < text.index("COPY libs libs")


class TestCompose:
    def test_every_service_is_built_from_its_target_and_has_a_healthcheck(self) -> None:
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
        for service in SERVICES:
            assert compose[service]["build"]["target"] == service
            assert compose[service]["build"]["args"]["PACKAGE"] == f"qbsync-{service}"
            assert "healthcheck" in compose[service], service
        for infra in ("kafka", "postgres"):
            assert "healthcheck" in compose[infra]

    def test_services_wait_for_healthy_kafka_and_postgres(self) -> None:
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
        for service in SERVICES:
            depends = compose[service]["depends_on"]
            assert depends["kafka"]["condition"] == "service_healthy"
            assert depends["postgres"]["condition"] == "service_healthy"


class TestKubernetes:
    def test_each_deployment_has_probes_requests_and_an_autoscaler(self) -> None:
        docs = _k8s_documents()
        deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
        autoscalers = {
            d["spec"]["scaleTargetRef"]["name"]: d
            for d in docs
            if d["kind"] == "HorizontalPodAutoscaler"
        }
        assert set(deployments) == set(SERVICES)
        for name, deployment in deployments.items():
            [container] = deployment["spec"]["template"]["spec"]["containers"]
            assert {"livenessProbe", "readinessProbe"} <= set(container), name
            assert container["resources"]["requests"], name
            assert name in autoscalers, name

    def test_probes_and_healthchecks_ask_routes_the_services_serve(self) -> None:
        # tests/security/routes.py is checked against every app's real routes.
        from tests.security.routes import ERRORS, INGEST, MAPPER, POSTER

        served = {"ingest": INGEST, "mapper": MAPPER, "poster": POSTER, "errors": ERRORS}
        for doc in _k8s_documents():
            if doc["kind"] != "Deployment":
                continue
            name = doc["metadata"]["name"]
            [container] = doc["spec"]["template"]["spec"]["containers"]
            probes = [v for k, v in container.items() if k.endswith("Probe")]
            for probe in probes:
                assert ("GET", probe["httpGet"]["path"]) in served[name], (name, probe)
            readiness = container["readinessProbe"]["httpGet"]["path"]
            assert readiness == "/readyz", f"{name}: readiness must ask the database and broker"
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
        for name, routes in served.items():
            [url] = re.findall(r"http://localhost:\d+(/\w+)", str(compose[name]["healthcheck"]))
            assert url == "/readyz", name
            assert ("GET", url) in routes, name

    def test_posters_run_four_group_members_per_process(self) -> None:
        # The code's default is 1 for the embedded broker, where each join waits seconds.
        [config] = [d for d in _k8s_documents() if d["kind"] == "ConfigMap"]
        assert config["data"]["QBSYNC_POSTER_CONSUMERS"] == "4"
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
        assert compose["poster"]["environment"]["QBSYNC_POSTER_CONSUMERS"] == "4"

    def test_autoscaling_never_exceeds_the_partitions_a_group_can_use(self) -> None:
        from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS, INBOUND

        partitions = {"ingest": INBOUND, "mapper": ACCEPTED, "poster": COMMANDS, "errors": ERRORS}
        for doc in _k8s_documents():
            if doc["kind"] == "HorizontalPodAutoscaler":
                name = doc["spec"]["scaleTargetRef"]["name"]
                assert doc["spec"]["maxReplicas"] <= partitions[name].partitions, name

    def test_secrets_are_referenced_never_inlined(self) -> None:
        assert not [d for d in _k8s_documents() if d["kind"] == "Secret"]


class TestGrafana:
    def test_dashboard_covers_lag_throughput_qbo_calls_429s_and_open_errors(self) -> None:
        dashboard = json.loads((DEPLOY / "grafana/qbsync.json").read_text())
        titles = " ".join(p["title"].lower() for p in dashboard["panels"])
        for word in ("lag", "per second", "qbo calls", "429", "open errors"):
            assert word in titles, word
