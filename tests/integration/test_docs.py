"""Docs that cannot drift: the README's settings table is what `verity settings` prints."""

from api.cli.service import settings_table
from tests.integration.conftest import ROOT
from tests.layout import layout


def test_readme_settings_table_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0].strip()
    assert block == settings_table()


def test_readme_names_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_layout_is_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- layout:start -->")[1].split("<!-- layout:end -->")[0].strip()
    assert block == f"```\n{layout()}\n```", "run `python -m tests.layout` and paste it into README.md's Layout"
