"""deploy/: the Dockerfiles linted (hadolint), the compose file checked against the configs
the tests run Janus and coturn with. No Docker engine runs here, so nothing is built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import janus_net, turn_net

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILES = ["Dockerfile", "janus.Dockerfile", "coturn.Dockerfile"]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfiles_pass_hadolint(name: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(DEPLOY / name)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bot_image_is_non_root_with_models_and_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "whisper_base_dir" in text  # Whisper base joined at build time, not at start


def test_compose_mounts_the_configs_the_tests_use() -> None:
    services = compose()["services"]
    assert set(services) == {"interpres", "interpreter", "janus", "coturn", "prometheus",
                             "grafana"}
    mounts = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                mounts[name] = ((DEPLOY / source).resolve(), target)
                assert (DEPLOY / source).exists(), volume
    assert mounts["janus"][0] == janus_net.CONFIG.resolve()
    assert mounts["coturn"][0] == turn_net.CONFIG.resolve()
    janus_command = " ".join(services["janus"]["entrypoint"])
    assert f"-F {mounts['janus'][1]}" in janus_command and "--apisecret=" in janus_command
    coturn_command = " ".join(services["coturn"]["entrypoint"])
    assert f"-c {mounts['coturn'][1]}" in coturn_command
    assert "--static-auth-secret=" in coturn_command
    # The server puts its interpreter in Janus rooms on demand; the scripted bot is opt-in.
    assert services["interpres"]["environment"]["INTERPRES_JANUS_URL"].endswith(":8088/janus")
    assert "INTERPRES_JANUS_SECRET=" in " ".join(services["interpres"]["entrypoint"])
    assert services["interpreter"]["profiles"] == ["scripted"]
    declared = set(compose()["secrets"])
    for service in services.values():
        assert set(service.get("secrets", [])) <= declared
    assert "deploy/secrets/" in (ROOT / ".gitignore").read_text()


def test_compose_provisions_prometheus_and_the_grafana_dashboard() -> None:
    """Prometheus scrapes the port `interpres serve` listens on; Grafana gets the data
    source and the dashboard file from the paths its provisioning names; both on loopback."""
    services = compose()["services"]
    serve = " ".join(services["interpres"]["entrypoint"])
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["127.0.0.1:8000"] and "--port 8000" in serve
    assert scrape["scrape_configs"][0]["job_name"] == "interpres"
    assert "--web.listen-address=127.0.0.1:9090" in services["prometheus"]["command"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"]
                  if v.startswith("."))
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    assert source["datasources"][0]["url"] == "http://127.0.0.1:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "interpres.yaml").read_text())
    assert mounts["./grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "interpres.json").read_text())
    uid = source["datasources"][0]["uid"]
    assert all(panel["datasource"]["uid"] == uid for panel in dashboard["panels"])
    assert services["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"


def test_janus_config_is_locked_down() -> None:
    core = (janus_net.CONFIG / "janus.jcfg").read_text()
    http = (janus_net.CONFIG / "janus.transport.http.jcfg").read_text()
    assert "api_secret" in core
    assert "admin_http = false" in http and "admin_https = false" in http
    for transport in ("websockets", "pfunix", "mqtt", "rabbitmq", "nanomsg"):
        assert f"libjanus_{transport}.so" in core  # disabled: HTTP only


def test_coturn_denies_private_peers_and_uses_rest_credentials() -> None:
    text = turn_net.CONFIG.read_text()
    assert "use-auth-secret" in text and "no-cli" in text
    for denied in ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255",
                   "192.168.0.0-192.168.255.255", "127.0.0.0-127.255.255.255", "::1"):
        assert f"denied-peer-ip={denied}" in text


def test_cluster_overlay_runs_ray_nodes_with_room_capacity() -> None:
    from bot.cluster.room_bots import ROOM_RESOURCE

    overlay = yaml.safe_load((DEPLOY / "compose.cluster.yaml").read_text())
    services = overlay["services"]
    assert set(services) == {"interpres", "ray-head", "ray-worker", "ray-gpu-worker"}
    assert services["interpres"]["environment"]["INTERPRES_CLUSTER_ADDRESS"] == "127.0.0.1:6379"
    for name in ("ray-head", "ray-worker", "ray-gpu-worker"):
        service = services[name]
        command = " ".join(service["entrypoint"])
        assert "ray start" in command and "--block" in command, name
        assert ROOM_RESOURCE in command, name
        assert service["build"]["args"]["EXTRAS"] == "cluster"
        assert service["environment"]["RAY_health_check_period_ms"]
    assert "--head" in " ".join(services["ray-head"]["entrypoint"])
    assert services["ray-worker"]["profiles"] == ["worker"]
    assert "--num-gpus=1" in " ".join(services["ray-gpu-worker"]["entrypoint"])


def test_kuberay_manifest_deploys_what_the_code_serves() -> None:
    import ray
    from ray.serve import Application

    from bot.cluster import recognition
    from bot.cluster.room_bots import ROOM_RESOURCE

    documents = list(yaml.safe_load_all((DEPLOY / "kuberay" / "rayservice.yaml").read_text()))
    kinds = {doc["kind"]: doc for doc in documents}
    assert set(kinds) == {"RayService", "Deployment", "ConfigMap", "Service"}
    service = kinds["RayService"]["spec"]
    assert service["rayClusterConfig"]["rayVersion"] == ray.__version__
    pin = [line for line in (ROOT / "pyproject.toml").read_text().splitlines()
           if '"ray[serve]==' in line]
    assert pin and ray.__version__ in pin[0]
    app = yaml.safe_load(service["serveConfigV2"])["applications"][0]
    assert app["name"] == recognition.APP
    assert app["deployments"][0]["name"] == recognition.DEPLOYMENT
    module, _, builder = app["import_path"].partition(":")
    assert module == recognition.__name__
    assert isinstance(getattr(recognition, builder)(app["args"]), Application)
    groups = {g["groupName"]: g for g in service["rayClusterConfig"]["workerGroupSpecs"]}
    assert ROOM_RESOURCE in groups["rooms"]["rayStartParams"]["resources"]
    assert json.loads(json.loads(groups["rooms"]["rayStartParams"]["resources"]))
    server = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "--cluster" in server["command"] and "ray://interpres-head-svc:10001" in \
        server["command"]
    toml = kinds["ConfigMap"]["data"]["interpres.toml"]
    assert "deploy_recognition = false" in toml


def test_every_ray_process_in_the_deploy_files_uses_token_authentication() -> None:
    overlay = yaml.safe_load((DEPLOY / "compose.cluster.yaml").read_text())
    for name, service in overlay["services"].items():
        assert service["environment"]["RAY_AUTH_MODE"] == "token", name
        assert "ray_auth_token" in service["secrets"], name
    documents = list(yaml.safe_load_all((DEPLOY / "kuberay" / "rayservice.yaml").read_text()))
    cluster = documents[0]["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"]["template"]["spec"],
            *(group["template"]["spec"] for group in cluster["workerGroupSpecs"]),
            documents[1]["spec"]["template"]["spec"]]
    for pod in pods:
        env = {item["name"]: item for item in pod["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "ray_auth_token"
