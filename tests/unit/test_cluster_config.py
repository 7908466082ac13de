"""[cluster] in interpres.toml, INTERPRES_CLUSTER_ADDRESS over it, Serve's autoscaling
settings from it, and the default path never importing ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cluster.connect import autoscaling
from bot.config import Config
from bot.config_file import ConfigError, read

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "interpres.toml"
    path.write_text(text)
    return path


def test_cluster_table_and_environment(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, '[cluster]\naddress = "ray://head:10001"\nasr_max_replicas = 4\n'
                           'asr_num_gpus = 0.5\n')
    assert read(path).cluster == {"address": "ray://head:10001", "asr_max_replicas": 4,
                                  "asr_num_gpus": 0.5}
    monkeypatch.setenv("INTERPRES_CONFIG", str(path))
    monkeypatch.setenv("INTERPRES_CLUSTER_ADDRESS", "auto")
    config = Config.from_env()
    assert config.cluster["address"] == "auto" and config.cluster["asr_max_replicas"] == 4
    monkeypatch.delenv("INTERPRES_CONFIG")
    monkeypatch.delenv("INTERPRES_CLUSTER_ADDRESS")
    assert Config.from_env().cluster == {}


@pytest.mark.parametrize("text, says", [
    ('[cluster]\nadress = "auto"\n', "adress is not a known setting"),
    ('[cluster]\nasr_max_replicas = "many"\n', "asr_max_replicas is 'many'; use a number"),
    ('[cluster]\nasr_num_cpus = -1\n', "asr_num_cpus is -1"),
])
def test_cluster_table_mistakes_are_named(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        read(write(tmp_path, text))


def test_autoscaling_from_the_table() -> None:
    fixed = autoscaling({})
    assert (fixed["min_replicas"], fixed["max_replicas"]) == (1, 1)
    scaled = autoscaling({"asr_min_replicas": 2, "asr_max_replicas": 8,
                          "asr_target_requests": 4})
    assert (scaled["min_replicas"], scaled["initial_replicas"], scaled["max_replicas"],
            scaled["target_ongoing_requests"]) == (2, 2, 8, 4.0)
    # A maximum below the minimum is the minimum, not an error Serve raises later.
    assert autoscaling({"asr_min_replicas": 3, "asr_max_replicas": 1})["max_replicas"] == 3


def test_the_default_path_never_imports_ray() -> None:
    code = ("import sys; from bot.server import create_app; import bot.cli, bot.janus.bots; "
            "create_app(); print(sorted(m for m in sys.modules if m == 'ray' or "
            "m.startswith('ray.') or m.startswith('bot.cluster')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]", out
