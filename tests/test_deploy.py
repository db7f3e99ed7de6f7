"""The deployment files: Kubernetes manifests valid against the API's schemas
(kubernetes-validate's bundled copies, offline) and consistent with each
other; the production compose file's structure, and ``docker compose
config`` where the CLI has Compose; every PAMPS_* name they set is a
setting; the production Dockerfile's shape."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pamps.config import KNOWN_DEFAULT_KEYS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# The Kubernetes version the manifests are written for.
KUBERNETES = "1.33.0"


def manifests() -> dict[str, dict[str, Any]]:
    """Every resource of deploy/k8s by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, f"two {document['kind']} resources"
            found[document["kind"]] = document
    return found


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def settings_names() -> set[str]:
    """``section.key`` of every setting the settings files declare, in any
    environment (the secret key is only in .secrets.toml)."""
    names = set()
    for path in (ROOT / "pamps" / "default.toml", ROOT / "settings.toml", ROOT / ".secrets.toml"):
        for environment in tomllib.loads(path.read_text()).values():
            for section, table in environment.items():
                if isinstance(table, dict):
                    names |= {f"{section}.{key}" for key in table}
    return names


def unknown_settings(names: list[str]) -> list[str]:
    """The PAMPS_* environment names that name no setting (PAMPS_ENV picks
    the environment)."""
    known = settings_names()
    unknown = []
    for name in names:
        if name == "PAMPS_ENV":
            continue
        section, _, key = name.removeprefix("PAMPS_").lower().partition("__")
        if not name.startswith("PAMPS_") or f"{section}.{key}" not in known:
            unknown.append(name)
    return unknown


def container(kind: str) -> dict[str, Any]:
    (only,) = manifests()[kind]["spec"]["template"]["spec"]["containers"]
    return only


class TestKubernetes:
    def test_every_manifest_is_valid(self) -> None:
        for resource in manifests().values():
            # strict: fields the schema does not know are errors too.
            kubernetes_validate.validate(resource, KUBERNETES, strict=True)

    def test_the_validator_refuses_a_broken_manifest(self) -> None:
        deployment = manifests()["Deployment"]
        deployment["spec"]["replica"] = 3  # a typo of replicas
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, KUBERNETES, strict=True)

    def test_the_resources_fit_together(self) -> None:
        found = manifests()
        assert set(found) >= {
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "Secret",
            "ConfigMap",
            "Job",
        }
        deployment = found["Deployment"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert found["Service"]["spec"]["selector"].items() <= pod_labels.items()
        target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])

        api = container("Deployment")
        assert api["readinessProbe"]["httpGet"]["path"] == "/health"
        assert api["livenessProbe"]["httpGet"]["path"] == "/metrics"  # no database needed
        assert api["resources"]["requests"]["cpu"] and api["resources"]["limits"]["memory"]
        sources = [
            found["ConfigMap"]["metadata"]["name"],
            found["Secret"]["metadata"]["name"],
        ]
        for pod in (api, container("Job")):
            names = [
                ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in pod["envFrom"]
            ]
            assert names == sources
        assert container("Job")["command"] == ["pamps", "migrate"]
        assert container("Job")["image"] == api["image"]

        # The pod is given the preStop pause and the shutdown bound to stop.
        settings = found["ConfigMap"]["data"]
        pause = int(api["lifecycle"]["preStop"]["exec"]["command"][-1])
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert pause + float(settings["PAMPS_SERVER__SHUTDOWN_TIMEOUT"]) < grace
        assert settings["PAMPS_METRICS__PORT"] == "0"  # the liveness probe's /metrics

    def test_the_example_secret_is_marked_and_refused_in_production(self) -> None:
        secret = manifests()["Secret"]
        assert "EXAMPLE VALUES ONLY" in (DEPLOY / "k8s" / "secret.yaml").read_text()
        values = secret["stringData"]
        assert values["PAMPS_SECURITY__SECRET_KEY"] in KNOWN_DEFAULT_KEYS
        assert "EXAMPLE-ONLY" in values["PAMPS_DB__URI"]


class TestCompose:
    def test_structure(self) -> None:
        spec = compose()
        services = spec["services"]
        assert set(services) == {"proxy", "api", "migrate", "db", "redis"}
        for name, service in services.items():
            assert "image" in service or "build" in service, name
            if "build" in service:
                context = (DEPLOY / service["build"]["context"]).resolve()
                assert (context / service["build"]["dockerfile"]).is_file(), name
            if name != "migrate":
                assert "healthcheck" in service, name
        api = services["api"]
        assert api["deploy"]["replicas"] >= 2
        assert api["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
        assert "/health" in " ".join(api["healthcheck"]["test"])
        assert services["migrate"]["command"] == ["pamps", "migrate"]
        assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert services["migrate"]["image"] == api["image"]
        proxy = services["proxy"]
        assert proxy["depends_on"] == {"api": {"condition": "service_healthy"}}
        assert [port.rsplit(":", 1)[1] for port in proxy["ports"]] == ["80"]
        assert not any("ports" in services[name] for name in ("api", "db", "redis"))
        for volume in proxy["volumes"]:
            assert (DEPLOY / volume.split(":")[0]).is_file(), volume
        # Secrets from files, each with an example to copy.
        for name, secret in spec["secrets"].items():
            assert (DEPLOY / (secret["file"] + ".example")).is_file(), name
        assert api["secrets"] == [{"source": "pamps_settings", "target": "/app/.secrets.toml"}]
        grace = int(api["stop_grace_period"].removesuffix("s"))
        assert float(api["environment"]["PAMPS_SERVER__SHUTDOWN_TIMEOUT"]) < grace

    def test_the_proxy_hides_metrics_and_passes_the_client(self) -> None:
        config = (DEPLOY / "nginx.conf").read_text()
        assert re.search(r"location = /metrics \{\s*return 404;", config)
        assert "server api:8000" in config
        assert "X-Forwarded-For" in config

    def test_docker_compose_config(self, tmp_path: Path) -> None:
        """Compose's own reading of the file, where the CLI has Compose."""
        docker = shutil.which("docker")
        if docker is None:
            pytest.skip("no docker CLI on this machine: `docker compose config` not run")
        version = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if version.returncode != 0:
            pytest.skip(
                "this docker CLI has no Compose plugin: `docker compose config` not run "
                f"({version.stderr.strip().splitlines()[0]})"
            )
        copy = tmp_path / "deploy"
        shutil.copytree(DEPLOY, copy)
        for example in (copy / "secrets").glob("*.example"):
            shutil.copy(example, example.with_suffix(""))
        shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
        result = subprocess.run(
            [docker, "compose", "-f", str(copy / "compose.yaml"), "config", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


class TestSettingNames:
    def test_every_name_set_is_a_setting(self) -> None:
        names: list[str] = []
        found = manifests()
        names += found["ConfigMap"]["data"]
        names += found["Secret"]["stringData"]
        for kind in ("Deployment", "Job"):
            names += [variable["name"] for variable in container(kind).get("env", [])]
        spec = compose()
        for service in spec["services"].values():
            names += [name for name in service.get("environment", {}) if name.startswith("PAMPS")]
        names += re.findall(r"\b(PAMPS_\w+)=", (ROOT / "Dockerfile").read_text())
        example = tomllib.loads((DEPLOY / "secrets" / "pamps.toml.example").read_text())
        for section, table in example["production"].items():
            names += [f"PAMPS_{section}__{key}".upper() for key in table]
        assert len(names) > 10
        assert unknown_settings(names) == []

    def test_a_misspelt_name_is_caught(self) -> None:
        assert unknown_settings(["PAMPS_DB__URL", "PAMPS_DB__URI", "PAMPS_METRIC__PORT"]) == [
            "PAMPS_DB__URL",
            "PAMPS_METRIC__PORT",
        ]

    def test_the_example_secrets_file_is_marked_and_refused_in_production(self) -> None:
        text = (DEPLOY / "secrets" / "pamps.toml.example").read_text()
        assert "EXAMPLE VALUES ONLY" in text
        key = tomllib.loads(text)["production"]["security"]["secret_key"]
        assert key in KNOWN_DEFAULT_KEYS


class TestDockerfile:
    def test_production_image(self) -> None:
        text = (ROOT / "Dockerfile").read_text()
        stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.MULTILINE)
        assert stages[0] == ("node:20-slim", "web")
        assert "RUN npm run build" in text
        # The same Python as the development image, dependencies from the lock.
        dev_python = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile.dev").read_text(), re.M)
        assert dev_python is not None
        assert {image for image, _ in stages[1:]} == {dev_python.group(1)}
        assert "pip install -r /tmp/requirements.txt" in text
        users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
        assert users and users[-1] not in ("root", "0")
        assert "PAMPS_ENV=production" in text
        assert 'CMD ["pamps", "serve"' in text
        for needed in ("alembic.ini", "migrations/"):
            assert needed in text
