"""The web page in a real browser (Debian's headless Chromium, driven by Playwright) against `verity serve`
on the sample knowledge base: like a support person, with the mouse, the keyboard and a phone-width screen.

Skipped when /usr/bin/chromium is missing, unless VERITY_REQUIRE_BROWSER=1 (then it fails instead).
Screenshots go to a pytest temp folder; with VERITY_UPDATE_SCREENSHOTS=1 the answer view is also copied to
docs/web-page.png for the README (not by default: a test run leaves the checkout as it found it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.adapters.state.feedback import FEEDBACK_FILE
from rag.config import Settings
from tests.integration.conftest import GOLDEN_NOW, ROOT, VENV_BIN, serve_verity

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WRITE_KEY = "web-write-key"
FINANCE_KEY = "web-finance-read-key"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # the first question warms the model up on a busy machine

if not CHROMIUM.exists():
    if os.environ.get("VERITY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"VERITY_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

pytestmark = pytest.mark.browser


def golden(question_id: str) -> dict[str, Any]:
    with (ROOT / "evals" / "datasets" / "golden.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            row: dict[str, Any] = json.loads(line)
            if row["id"] == question_id:
                return row
    raise KeyError(question_id)


def serve(sample_settings: Settings, folder: Path, **env: str) -> Iterator[str]:
    """`verity serve` on a private copy of the ingested sample knowledge base (its own feedback file)."""
    data = folder / "data"
    shutil.copytree(sample_settings.data_dir, data)
    variables = {"VERITY_DATA_DIR": str(data), "VERITY_FROZEN_NOW": GOLDEN_NOW, "VERITY_WRITE_KEYS": WRITE_KEY, **env}
    service, url = serve_verity(variables, folder / "server.log")
    try:
        yield url
    finally:
        service.stop()


@pytest.fixture(scope="module")
def server(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Groups come from the page (no read keys), as behind a trusted gateway."""
    yield from serve(sample_settings, tmp_path_factory.mktemp("web-server"))


@pytest.fixture(scope="module")
def keyed_server(sample_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Reads need a key; this one holds the finance group."""
    yield from serve(sample_settings, tmp_path_factory.mktemp("web-keyed"), VERITY_READ_KEYS=f"{FINANCE_KEY}:finance")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Playwright starts Chromium with a fresh temporary --user-data-dir of its own
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-screenshots")


class Session:
    """A browser context on one server; fails the test on any script error or CSP violation."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.base = base
        self.context: BrowserContext = browser.new_context(viewport=LAPTOP, locale="en-US")  # type: ignore[arg-type]
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        self.errors: list[str] = []

    def open(self, viewport: dict[str, int] | None = None) -> Page:
        page = self.context.new_page()
        if viewport:
            page.set_viewport_size(viewport)  # type: ignore[arg-type]
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        # 4xx answers are logged by Chromium as "Failed to load resource": those are the errors under test
        page.on(
            "console",
            lambda m: (
                self.errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
            ),
        )
        page.goto(self.base)
        expect(page.locator("html")).to_have_attribute("data-ready", "true")
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # 4xx answers are logged by Chromium as "Failed to load resource": those are the errors under test
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)


@pytest.fixture
def session(browser: Browser, server: str) -> Iterator[Session]:
    s = Session(browser, server)
    yield s
    s.context.close()
    assert s.errors == []


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_label("Your question").press("Enter")
    expect(page.locator("#ask-result article, #ask-result [role=alert]")).to_be_visible(timeout=WAIT_MS)


def fact(card: Locator, name: str) -> Locator:
    """The value of one fact (a <dt>/<dd> pair) of a card."""
    return card.locator(".facts > div").filter(has=card.page.locator("dt", has_text=name)).locator("dd")


def no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths


def test_a_question_shows_the_answer_with_numbered_citations_and_badges(session: Session, shots: Path) -> None:
    page = session.open()
    assert page.locator("#ask-result").get_attribute("aria-live") == "polite"
    ask(page, "What does error E-4012 mean?")
    answer = page.locator("#ask-result article.answer")
    expect(answer.get_by_role("heading", level=2)).to_have_text("Answered from 1 verified card")
    expect(answer.locator(".answer-text")).to_contain_text("Error E-4012 means the payment was declined")
    expect(answer.locator(".answer-text a.cite")).to_have_text(["[1]"])
    card = answer.locator("li.card").first
    assert card.get_attribute("data-card-id") == "billing-failed-payment-e4012"
    expect(card.locator(".marker")).to_have_text("1")
    expect(card.locator(".card-title")).to_have_text("Failed card payments and error E-4012")
    expect(card.locator(".card-title a")).to_have_attribute(
        "href", "https://kb.orbita.example/cards/billing-failed-payment-e4012"
    )
    expect(fact(card, "Collection")).to_have_text("billing")
    expect(fact(card, "Verifier")).to_have_text("minh.nguyen@orbita.example")
    badge = card.locator(".badge.verified")
    expect(badge).to_have_text("Verified until 9 May 2027")  # words, not only a colour
    expect(badge.locator("svg")).to_have_count(1)
    page.screenshot(path=shots / "answer.png", full_page=True)
    if os.environ.get("VERITY_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shots / "answer.png", ROOT / "docs" / "web-page.png")

    answer.locator("a.cite").first.click()  # the marker leads to its card
    expect(card).to_be_focused()

    # any language: the Turkish question of the README finds the English card
    ask(page, "Müşterinin kartı E-4012 hatası ile reddedildi, ne yapmalıyım?")
    expect(page.locator("#ask-result article.answer li.card").first).to_have_attribute(
        "data-card-id", "billing-failed-payment-e4012"
    )


@pytest.mark.parametrize(
    ("question_id", "badge_class", "badge_text", "reason_words"),
    [
        ("q082", "expired", "Expired on 11 Jul 2026", "have expired"),
        ("q074", "unverified", "Unverified · never checked", "never been verified"),
    ],
)
def test_a_refusal_shows_the_reason_and_whom_to_ask(
    session: Session, shots: Path, question_id: str, badge_class: str, badge_text: str, reason_words: str
) -> None:
    case = golden(question_id)
    page = session.open()
    ask(page, case["question"])
    refusal = page.locator("#ask-result article.refusal")
    expect(refusal).to_have_attribute("data-reason", case["expected_outcome"])
    expect(refusal.get_by_role("heading", level=2)).to_have_text("Verity did not answer")
    expect(refusal.locator(".plain-reason")).to_contain_text(reason_words)
    candidate = refusal.locator(f'li.card[data-card-id="{case["expected_card_ids"][0]}"]')
    expect(candidate.locator(f".badge.{badge_class}")).to_have_text(badge_text)
    ask_line = candidate.locator(".ask-to-verify")
    expect(ask_line).to_contain_text("Ask ")
    expect(ask_line.locator("a")).to_have_attribute("href", re.compile(r"^mailto:[^?]+@orbita\.example\?subject="))
    expect(page.locator("#ask-result .answer-text")).to_have_count(0)  # no text of an untrusted card
    page.screenshot(path=shots / f"refusal-{case['expected_outcome']}.png", full_page=True)


def test_a_draft_reply_is_copied_to_the_clipboard(session: Session, shots: Path) -> None:
    page = session.open()
    page.get_by_role("tab", name="Draft a reply").click()
    page.get_by_label("Customer message").fill("Hello, my card payment failed with error E-4012. What should I do?")
    page.get_by_label("Ticket context").fill("Pro Annual plan, renewal on 1 December")
    page.get_by_label("Ticket context").press("Control+Enter")
    draft = page.locator("#draft-result article.draft")
    expect(draft).to_have_attribute("data-outcome", "drafted", timeout=WAIT_MS)
    reply = draft.get_by_label("Reply for the customer")
    expect(reply).to_have_value(re.compile("E-4012"))
    expect(draft.locator("li.card .badge.verified").first).to_contain_text("Verified until")
    draft.get_by_role("button", name="Copy reply").click()
    expect(draft.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == reply.input_value()
    page.screenshot(path=shots / "draft.png", full_page=True)


def test_copy_falls_back_when_the_clipboard_api_is_missing(session: Session) -> None:
    page = session.context.new_page()
    page.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });")
    page.goto(session.base)
    page.get_by_role("tab", name="Draft a reply").click()
    page.get_by_label("Customer message").fill("My card payment failed with error E-4012.")
    page.get_by_role("button", name="Draft reply").click()
    draft = page.locator("#draft-result article.draft")
    expect(draft).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("navigator.clipboard") is None
    draft.get_by_role("button", name="Copy reply").click()
    expect(draft.locator("#copy-status")).to_have_text("Copied to the clipboard.")  # document.execCommand("copy")
    reader = session.open()  # a page with the clipboard API reads back what the fallback copied
    assert (
        reader.evaluate("navigator.clipboard.readText()") == draft.get_by_label("Reply for the customer").input_value()
    )


def test_a_request_a_human_must_decide_shows_the_holding_reply_and_whom_to_ask(session: Session) -> None:
    page = session.open()
    page.get_by_role("tab", name="Draft a reply").click()
    page.get_by_label("Customer message").fill(golden("q074")["question"])
    page.get_by_role("button", name="Draft reply").click()
    draft = page.locator("#draft-result article.draft")
    expect(draft).to_have_attribute("data-outcome", "needs_human", timeout=WAIT_MS)
    expect(draft.get_by_role("heading", level=2)).to_have_text("A person must decide before this is answered")
    expect(draft.locator(".plain-reason")).to_contain_text("never been verified")
    expect(draft.locator(".decision")).to_contain_text("verif")  # the server's words: what to decide and why
    expect(draft.get_by_label("Holding reply for the customer")).not_to_have_value("")
    expect(draft.locator('li.card[data-card-id="shipping-hub-battery-replacement"] .badge.unverified')).to_be_visible()


def test_a_reply_is_checked_sentence_by_sentence(session: Session, shots: Path) -> None:
    page = session.open()
    page.get_by_role("tab", name="Check my reply").click()
    expect(page.get_by_label("Your reply")).to_be_focused()
    page.get_by_role("button", name="Check reply").click()
    expect(page.locator("#check-result [role=alert]")).to_have_text("Paste your reply first.")
    reply = (
        "Error E-4012 means the payment was declined by the customer's card issuer. [1] "
        "Every customer gets a free Orbita Hub with their next invoice. "
        "Support agents may send an Enterprise customer a goodwill replacement Orbita Hub without waiting for the "
        "customer's defective unit to arrive at the warehouse. "
        'Reply <img src=x onerror="document.title=1"> soon.'
    )
    page.get_by_label("Your reply").fill(reply)
    page.get_by_label("Your reply").press("Control+Enter")
    check = page.locator("#check-result article.check")
    expect(check).to_be_visible(timeout=WAIT_MS)
    sentences = check.locator("li.sentence")
    expect(sentences).to_have_count(4)
    expect(check.get_by_role("heading", level=2)).to_have_text("2 of 4 sentences supported by verified cards")

    true = sentences.nth(0)
    expect(true).to_have_attribute("data-status", "supported")
    expect(true.locator(".badges").first).to_have_text("Supported")  # words and an icon, not only a colour
    card = true.locator('li.card[data-card-id="billing-failed-payment-e4012"]')
    expect(card.locator(".card-title a")).to_have_text("Failed card payments and error E-4012")
    expect(card.locator(".badge.verified")).to_have_text("Verified until 9 May 2027")
    expect(card.locator("blockquote.evidence")).not_to_have_count(0)  # the card's own words
    expect(card.locator(".badge.internal")).to_have_count(0)

    invented = sentences.nth(1)
    expect(invented).not_to_have_attribute("data-status", "supported")
    expect(invented.locator(".why")).not_to_be_empty()

    internal = sentences.nth(2)
    expect(internal).to_have_attribute("data-status", "supported", timeout=WAIT_MS)
    expect(internal.locator(".badges").first).to_contain_text("Internal only: not for the customer")
    expect(
        internal.locator('li.card[data-card-id="shipping-rma-goodwill-replacement"] .badge.internal')
    ).to_be_visible()

    markup = sentences.nth(3)  # the reply's text is shown as text, never parsed as HTML
    expect(markup.locator(".sentence-text")).to_have_text('Reply <img src=x onerror="document.title=1"> soon.')
    expect(check.locator("img")).to_have_count(0)
    assert page.title() != "1"
    page.screenshot(path=shots / "check.png", full_page=True)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    no_horizontal_scroll(page)


def test_thumbs_up_is_stored_with_what_was_rated(session: Session, server: str) -> None:
    page = session.open()
    ask(page, "What does error E-4012 mean?")
    answer = page.locator("#ask-result article.answer")
    answer.get_by_label("Comment (optional)").fill("exactly what the customer needed")
    answer.get_by_role("button", name="Helpful", exact=True).click()
    status = answer.locator(".feedback [role=status]")
    expect(status).to_contain_text("your feedback was saved")
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_role("button", name="Not helpful")).to_be_disabled()
    saved_id = int(status.inner_text().split("#")[1].rstrip(").\n"))

    listed = httpx.get(f"{server}/v1/feedback", headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=10)
    assert listed.status_code == 200
    stored = next(f for f in listed.json()["feedback"] if f["id"] == saved_id)
    assert stored["verdict"] == "up"
    assert stored["outcome"] == "answered"
    assert stored["question"] == "What does error E-4012 mean?"
    assert stored["answer"].startswith("Error E-4012 means")
    assert stored["cited_card_ids"] == ["billing-failed-payment-e4012"]
    assert stored["comment"] == "exactly what the customer needed"
    assert httpx.get(f"{server}/v1/feedback", timeout=10).status_code == 401  # the list needs the write key


def test_feedback_on_a_refusal_keeps_the_reason(session: Session, server: str) -> None:
    page = session.open()
    ask(page, golden("q082")["question"])
    page.locator("#ask-result article.refusal").get_by_role("button", name="Not helpful").click()
    expect(page.locator("#ask-result .feedback [role=status]")).to_contain_text("saved")
    newest = httpx.get(f"{server}/v1/feedback?limit=1", headers={"Authorization": f"Bearer {WRITE_KEY}"}).json()
    assert newest["feedback"][0]["outcome"] == "refused"
    assert newest["feedback"][0]["reason"] == "only_expired"
    assert newest["feedback"][0]["cited_card_ids"] == ["features-data-export-csv"]


def test_phone_width_has_no_horizontal_scroll(session: Session, shots: Path) -> None:
    page = session.open(PHONE)
    no_horizontal_scroll(page)
    ask(page, "What does error E-4012 mean?")
    no_horizontal_scroll(page)
    page.screenshot(path=shots / "phone-answer.png", full_page=True)
    ask(page, golden("q082")["question"])
    no_horizontal_scroll(page)
    page.get_by_role("tab", name="Draft a reply").click()
    page.get_by_label("Customer message").fill("My card payment failed with error E-4012.")
    page.get_by_role("button", name="Draft reply").click()
    expect(page.locator("#draft-result article.draft")).to_be_visible(timeout=WAIT_MS)
    no_horizontal_scroll(page)
    page.screenshot(path=shots / "phone-draft.png", full_page=True)
    page.locator("#identity summary").click()
    expect(page.locator("#identity-form")).to_be_in_viewport(ratio=1)
    no_horizontal_scroll(page)


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_keyboard_only_ask_and_rate(session: Session) -> None:
    page = session.open()
    for _ in range(12):  # skip link, identity, tabs, then the question
        page.keyboard.press("Tab")
        if focused_id(page) == "question":
            break
    assert focused_id(page) == "question"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.type("What does error E-4012 mean?")
    page.keyboard.press("Enter")
    expect(page.locator("#ask-result article.answer")).to_be_visible(timeout=WAIT_MS)
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.verdict") == "up":
            break
    assert page.evaluate("document.activeElement.dataset.verdict") == "up"
    page.keyboard.press("Enter")
    expect(page.locator("#ask-result .feedback [role=status]")).to_contain_text("saved")

    page.get_by_role("tab", name="Ask a question").focus()
    page.keyboard.press("ArrowRight")  # tabs move with the arrow keys
    expect(page.get_by_role("tab", name="Draft a reply")).to_be_focused()
    expect(page.get_by_label("Customer message")).to_be_visible()


def test_groups_from_the_page_open_restricted_cards(session: Session) -> None:
    case = golden("q069")
    page = session.open()
    ask(page, case["question"])
    expect(page.locator(f'[data-card-id="{case["expected_card_ids"][0]}"]')).to_have_count(0)
    page.get_by_text("Signed in as:").click()
    page.get_by_label("Groups").fill("Finance Team")
    page.get_by_label("Groups").press("Enter")
    expect(page.locator("#groups-error")).to_contain_text("Not a group name: finance team")
    page.get_by_label("Groups").fill("finance")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#identity-name")).to_have_text("finance")
    ask(page, case["question"])
    expect(page.locator("#ask-result article.answer li.card").first).to_have_attribute(
        "data-card-id", case["expected_card_ids"][0]
    )


def test_problems_are_shown_in_words(session: Session) -> None:
    page = session.open()
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#ask-result [role=alert]")).to_have_text("Type a question first.")
    expect(page.get_by_label("Your question")).to_be_focused()
    ask(page, "x" * 2001)
    alert = page.locator("#ask-result [role=alert]")
    expect(alert.get_by_role("heading")).to_have_text("Please check what you entered")
    expect(alert).to_contain_text("the limit is 2000")
    expect(alert).to_contain_text("HTTP 422")


def test_a_read_key_is_asked_for_kept_for_the_tab_and_bounds_the_groups(
    browser: Browser, keyed_server: str, shots: Path
) -> None:
    case = golden("q069")  # a finance card
    session = Session(browser, keyed_server)
    try:
        page = session.open()
        ask(page, case["question"])
        alert = page.locator("#ask-result [role=alert]")
        expect(alert.get_by_role("heading")).to_have_text("Your access key was not accepted")
        expect(alert).to_contain_text("valid read key")
        page.screenshot(path=shots / "needs-key.png", full_page=True)
        alert.get_by_role("button", name="Open “Signed in as”").click()
        expect(page.get_by_label("Access key")).to_be_focused()
        page.keyboard.type(FINANCE_KEY)
        page.keyboard.press("Enter")
        expect(page.locator("#identity-name")).to_have_text("access key")
        assert page.evaluate("sessionStorage.getItem('verity.accessKey')") == FINANCE_KEY
        assert page.evaluate("localStorage.getItem('verity.accessKey')") is None
        ask(page, case["question"])
        expect(page.locator("#ask-result article.answer li.card").first).to_have_attribute(
            "data-card-id", case["expected_card_ids"][0]
        )
        page.locator("#ask-result").get_by_role("button", name="Helpful", exact=True).click()
        expect(page.locator("#ask-result .feedback [role=status]")).to_contain_text("saved")

        page.reload()  # the key stays for the tab
        expect(page.locator("#identity-name")).to_have_text("access key")
        page.get_by_text("Signed in as:").click()
        page.get_by_label("Groups").fill("support-leads")
        page.get_by_role("button", name="Save").click()
        ask(page, case["question"])
        alert = page.locator("#ask-result [role=alert]")
        expect(alert.get_by_role("heading")).to_have_text("You may not do this")
        expect(alert).to_contain_text("does not hold the group")
    finally:
        session.context.close()
    assert session.errors == []
    listed = httpx.get(f"{keyed_server}/v1/feedback", headers={"Authorization": f"Bearer {WRITE_KEY}"}).json()
    assert listed["feedback"][0]["subject"].startswith("key:")
    assert listed["feedback"][0]["groups"] == ["finance"]


def test_the_feedback_file_is_shared_safely_by_processes(tmp_path: Path) -> None:
    """Four processes rate at once into one file (WAL, busy timeout): every rating is kept, none fails."""
    path = tmp_path / FEEDBACK_FILE
    script = (
        "import sys\n"
        "from rag.adapters.state.feedback import *\n"
        "store = SQLiteFeedbackStore(sys.argv[1])\n"
        "for n in range(50):\n"
        "    store.add(NewFeedback(f'{sys.argv[2]}-{n}', None, (), RatedOutcome.ANSWERED, None, Verdict.UP, None,"
        " 'gateway', frozenset()))\n"
    )
    writers = [
        subprocess.Popen([str(VENV_BIN / "python"), "-c", script, str(path), f"w{w}"], cwd=ROOT) for w in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*), count(DISTINCT question) FROM feedback").fetchone() == (200, 200)
