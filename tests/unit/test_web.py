"""The web page as files served by the app: headers, assets, and the rules its markup and script keep."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from api.routes.web import ASSETS, STATIC


class Controls(HTMLParser):
    """Collects form controls, the ids labels point at, and the local files the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.loaded: set[str] = set()
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"input", "textarea", "select"}:
            self.controls.append(a)
        if tag == "label" and a.get("for"):
            self.label_for.add(str(a["for"]))
        for name in ("src", "href"):
            value = a.get(name) or ""
            if value.startswith("/static/"):
                self.loaded.add(value.removeprefix("/static/"))
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1


def parsed_page() -> Controls:
    parser = Controls()
    parser.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return parser


def test_the_page_is_served_at_the_root_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/app.js">' in response.text


@pytest.mark.parametrize(("name", "media_type"), sorted(ASSETS.items()))
def test_every_asset_is_served_with_its_type_and_revalidated(client: TestClient, name: str, media_type: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == (STATIC / name).read_bytes()
    again = client.get(f"/static/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("path", ["/static/index.html", "/static/../web.py", "/static/secret.txt", "/static/"])
def test_only_listed_assets_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_the_page_is_not_in_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/static/{name}" not in paths
    assert {"/v1/feedback"} <= set(paths)


def test_every_control_has_a_label_and_every_loaded_file_is_listed() -> None:
    page = parsed_page()
    unlabelled = [c for c in page.controls if c.get("id") not in page.label_for and not c.get("aria-label")]
    assert page.controls and not unlabelled
    assert page.loaded and page.loaded <= set(ASSETS)
    assert page.inline_scripts == 0  # the policy forbids them: everything lives in app.js


def test_the_script_never_parses_server_strings_as_html() -> None:
    """Cards are user content: the script builds nodes and sets text, it never hands a string to the HTML parser."""
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert not re.search(r"setAttribute\(\s*[\"']on", script)  # no handlers from strings either
