"""`make test` is the whole set-up: `.ci/run` only calls it, and `scripts/system-deps`, its first step,
installs chromium and docker-compose or stops at once with the command that does.

The install paths run against a stand-in apt-get (and sudo) on a PATH of their own: nothing is installed here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.integration.conftest import ROOT

SYSTEM_DEPS = ROOT / "scripts" / "system-deps"


def test_ci_runs_only_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "apt-get" not in ci
    assert commands[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "test-integration"):
        match = re.search(rf"^{target}:(.*)$", makefile, re.MULTILINE)
        assert match is not None and match.group(1).split()[0] == "system-deps", target


def bare_path(tmp_path: Path, *, apt_get: bool = True, apt_fails: tuple[str, ...] = ()) -> tuple[str, Path]:
    """A PATH with bash and env only, plus a stand-in apt-get that logs its arguments and "installs" a package
    as an executable of that name on this PATH (failing for apt_fails), and a sudo that runs it (for non-root)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("bash", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    log = tmp_path / "apt-get.log"
    if apt_get:
        fake = bin_dir / "apt-get"
        fake.write_text(
            "#!/bin/bash\n"
            f'echo "$*" >> {log}\n'
            'if [ "$1" = install ]; then\n'
            '  pkg="${@: -1}"\n'
            f'  case " {" ".join(apt_fails)} " in *" $pkg "*) exit 100 ;; esac\n'
            f'  {shutil.which("ln")} -s {shutil.which("true")} "{bin_dir}/$pkg"\n'
            "fi\n"
        )
        fake.chmod(0o755)
        sudo = bin_dir / "sudo"
        sudo.write_text('#!/bin/bash\n[ "$1" = -n ] && shift\n[ "$1" = true ] && exit 0\nexec "$@"\n')
        sudo.chmod(0o755)
    return str(bin_dir), log


def system_deps(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run([str(SYSTEM_DEPS), *args], env=env, capture_output=True, text=True, timeout=60)


def test_check_without_chromium_names_the_command_and_installs_nothing(tmp_path: Path) -> None:
    path, log = bare_path(tmp_path)
    result = system_deps(path, "--check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "apt-get install -y chromium docker-compose" in result.stdout
    assert not log.exists()


def test_check_passes_with_the_chromium_on_this_path() -> None:
    result = system_deps(os.environ["PATH"], "--check")
    assert (result.returncode == 0) == (shutil.which("chromium") is not None), result.stdout + result.stderr


def test_installs_what_is_missing_once_then_runs_nothing(tmp_path: Path) -> None:
    path, log = bare_path(tmp_path)
    first = system_deps(path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert log.read_text().splitlines() == [
        "update -qq",
        "install -y -qq chromium",
        "install -y -qq docker-compose",
    ]
    again = system_deps(path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(log.read_text().splitlines()) == 3  # everything present: no apt-get update
    assert system_deps(path, "--check").returncode == 0


def test_docker_compose_is_best_effort(tmp_path: Path) -> None:
    path, _ = bare_path(tmp_path, apt_fails=("docker-compose",))
    result = system_deps(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docker-compose could not be installed" in result.stdout
    assert shutil.which("chromium", path=path) is not None


def test_stops_with_the_one_command_when_chromium_cannot_be_installed(tmp_path: Path) -> None:
    no_apt, _ = bare_path(tmp_path / "no-apt", apt_get=False)
    result = system_deps(no_apt)
    assert result.returncode == 1
    assert "\n    apt-get install -y chromium docker-compose\n" in result.stderr.replace("sudo apt-get", "apt-get")

    failing, _ = bare_path(tmp_path / "apt-fails", apt_fails=("chromium",))
    result = system_deps(failing)
    assert result.returncode == 1
    assert "`apt-get install chromium` failed" in result.stderr
    assert "apt-get install -y chromium docker-compose" in result.stderr
