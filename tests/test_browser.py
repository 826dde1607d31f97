"""The real page in Debian's chromium (Playwright): ask, read the cited card, open its source, stay safe.

Also writes docs/screenshot.png (the results and the opened source, as a learner sees them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app_support import GRADIO_PANDAS_NOISE, ROOT, serve

pytestmark = [pytest.mark.browser, pytest.mark.model, *GRADIO_PANDAS_NOISE]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
QUESTION = "Who created interpersonal psychotherapy?"
XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script> ${alert(3)} {{alert(4)}}"
TIMEOUT = 30_000  # ms; the first question also warms the model up


@pytest.fixture(scope="module")
def url(real_searcher):
    with serve(real_searcher) as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT)  # assertions wait as long as actions: the machine may be busy
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def visit(browser, url):
    """A fresh page on the app, recording every request and dialog; asserts afterwards that all requests
    stayed on this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.locator("#question textarea").wait_for()
    yield page, dialogs
    context.close()
    assert requests
    outside = [u for u in requests if not (u.startswith("http://127.0.0.1:") or u.startswith(("data:", "blob:")))]
    assert outside == [], f"requests left 127.0.0.1: {outside}"


def ask(page, question: str) -> None:
    """Type a question, press Enter, and wait until the page shows the answer to it."""
    from playwright.sync_api import expect

    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#results .ipt-asked q")).to_have_text(" ".join(question.split()))
    page.wait_for_function("() => !document.querySelector('#results .pending, #source .pending')")


def test_ask_read_cited_card_and_open_its_source(visit, real_searcher):
    from playwright.sync_api import expect

    page, dialogs = visit
    expect(page.locator("#disclaimer")).to_contain_text("not medical advice")
    ask(page, QUESTION)
    expected = real_searcher.ask(QUESTION).passages[0]
    card = page.locator("#results .ipt-card").first
    expect(card).to_be_visible()
    expect(card.locator(".ipt-title")).to_have_text(expected.title)
    expect(card.locator(".ipt-passage")).to_contain_text("Klerman")
    mark = card.locator("mark.ipt-hl")
    expect(mark).to_be_visible()
    hl = expected.highlight
    expect(mark).to_have_text(expected.text[hl["start"] - expected.start:hl["end"] - expected.start])
    expect(card.locator(".ipt-rel")).to_have_text(expected.relevance)
    expect(card.locator(".ipt-where")).to_contain_text(f"{expected.path}, line")

    card.locator("button.ipt-cite").click()
    source = page.locator("#source")
    expect(source.locator(".ipt-source-title")).to_have_text(expected.title)
    cited = source.locator("#cited")
    expect(cited).to_be_visible()
    expect(cited).to_be_in_viewport()
    marked = source.locator("mark.ipt-cited").all_inner_texts()
    assert "".join(marked) == expected.text.replace("\n", "")
    # The picture for the docs: the whole page from its top, the source panel keeping its own scroll.
    page.set_viewport_size({"width": 1280, "height": 1250})
    page.evaluate("window.scrollTo(0, 0)")
    expect(cited).to_be_in_viewport()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert dialogs == []


def test_example_button_and_also_in_citation(visit):
    from playwright.sync_api import expect

    page, _ = visit
    page.locator("#examples button", has_text="How long does IPT last?").click()
    expect(page.locator("#question textarea")).to_have_value("How long does IPT last?")
    expect(page.locator("#results .ipt-asked q")).to_have_text("How long does IPT last?")
    expect(page.locator("#results .ipt-card").first).to_be_visible()
    also = page.locator("#results button.ipt-cite-inline")
    if also.count():  # another source says the same: its citation opens that source
        source_id = also.first.get_attribute("data-source")
        also.first.click()
        expect(page.locator("#source #cited")).to_be_in_viewport()
        expect(page.locator("#source .ipt-meta").first).to_contain_text(source_id)


def test_xss_question_shows_literally_and_runs_nothing(visit):
    from playwright.sync_api import expect

    page, dialogs = visit
    ask(page, XSS)
    expect(page.locator("#results .ipt-asked q")).to_have_text(XSS)
    assert page.locator("#results img, #results script, #results svg").count() == 0
    page.wait_for_timeout(500)  # an injected handler would have fired by now
    assert dialogs == []


def test_crisis_notice_is_above_the_passages(visit):
    from playwright.sync_api import expect

    page, _ = visit
    ask(page, "I keep thinking about suicide. Can IPT help with depression?")
    notice = page.locator("#results .ipt-notice")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    first = page.locator("#results .ipt-card, #results .ipt-abstain").first
    assert notice.bounding_box()["y"] < first.bounding_box()["y"]


def test_abstention_empty_question_and_no_sources(visit, real_searcher):
    from playwright.sync_api import expect

    page, _ = visit
    ask(page, "What is the capital of France?")
    expect(page.locator("#results .ipt-abstain")).to_contain_text("Nothing in the sources answers this question")
    page.locator("#results .ipt-abstain button", has_text="Who created IPT?").click()
    expect(page.locator("#results .ipt-card").first).to_be_visible()

    page.locator("#question textarea").fill("")
    page.locator("#ask").click()
    expect(page.locator("#results")).to_contain_text("Type a question")

    page.get_by_text("Options: number of passages, sources to search").click()
    boxes = page.locator("#sources input[type=checkbox]")
    expect(boxes).to_have_count(len(real_searcher.index.sources))  # the accordion renders when opened
    for box in boxes.all():
        box.uncheck()
    page.locator("#question textarea").fill("Who created IPT?")
    page.locator("#ask").click()
    expect(page.locator("#results")).to_contain_text("No source is chosen")
