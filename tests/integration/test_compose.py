"""docker-compose.yml: validated by `docker compose config` (or docker-compose) where present, and checked
for what Verity needs from it: an API wired to a Chroma server of the locked client's version."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version

import yaml

from tests.integration.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_is_valid_where_a_compose_cli_exists() -> None:
    command = compose_command()
    if command is None:  # scripts/system-deps installs docker-compose where it can; this is for machines without it
        return
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_wires_the_api_to_the_chroma_server() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"api", "chroma", "ingest"} <= set(services)
    assert services["chroma"]["image"] == f"chromadb/chroma:{version('chromadb')}"
    for name in ("api", "ingest"):
        env = services[name]["environment"]
        assert env["VERITY_CHROMA_HOST"] == "chroma"
        assert env["VERITY_CHROMA_PORT"] == "8000"
    assert services["api"]["ports"] == ["8000:8000"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert '"verity", "serve"' in dockerfile
