"""The real page in Debian's chromium (Playwright), as a learner sees it on a 1366x900 desktop, a 390x844 phone
and in dark mode: ask, read the cited card, open its source and come back, the crisis notice, safety, and
axe-core's accessibility check (no serious or critical finding) in each state.

Screenshots (desktop, phone, dark, crisis) go to a temporary folder, printed at the end of the run; the ones
docs/ shows are made by `python -m tests.screenshots docs/screenshots`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import screenshots as shots
from app_support import GRADIO_PANDAS_NOISE, serve

from qa.judge.safety import CRISIS_NOTICE
from qa.present.page import EXAMPLE_QUESTIONS

pytestmark = [pytest.mark.browser, pytest.mark.model, *GRADIO_PANDAS_NOISE]

XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script> ${alert(3)} {{alert(4)}}"
WEAK = "Is IPT available on the NHS?"  # answered, with a weak-match warning (p_unanswered 0.42 today)


@pytest.fixture(scope="module")
def url(real_searcher):
    with serve(real_searcher) as u:
        yield u


@pytest.fixture(scope="module")
def browser():
    if not Path(shots.CHROMIUM).exists():
        pytest.skip(f"{shots.CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=shots.TIMEOUT)  # assertions wait as long as actions: the machine may be busy
    with sync_playwright() as p:
        b = shots.launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def axe():
    """Where axe-core is (scripts/run-tests.sh installs it; installed here too when npm is at hand)."""
    try:
        shots.install_axe()
    except (OSError, subprocess.CalledProcessError) as e:  # no npm or no registry: say so, do not pass quietly
        pytest.skip(f"axe-core could not be installed into {shots.AXE_DIR} ({e}); run scripts/run-tests.sh")
    return shots.AXE


@pytest.fixture(scope="module")
def shot_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("screenshots")
    yield d
    print(f"\nscreenshots of the browser test: {d}")


@pytest.fixture
def visit(browser, url):
    """Opens the app in a fresh context for a view, recording every request and dialog; asserts afterwards
    that all requests stayed on this machine and no dialog opened."""
    opened = []

    def open_view(view: shots.View = shots.DESKTOP):
        context = view.context(browser)
        page = context.new_page()  # listeners go on before the first request
        page.set_default_timeout(shots.TIMEOUT)
        requests, dialogs = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.locator("#question textarea").wait_for()
        opened.append((context, requests, dialogs))
        return page

    yield open_view
    for context, requests, dialogs in opened:
        context.close()
        assert requests
        outside = [u for u in requests if not (u.startswith("http://127.0.0.1:") or u.startswith(("data:", "blob:")))]
        assert outside == [], f"requests left 127.0.0.1: {outside}"
        assert dialogs == []


def in_viewport(page, selector: str) -> bool:
    """The element's box lies wholly within the window."""
    return page.locator(selector).first.evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight "
        "&& r.left >= 0 && r.right <= window.innerWidth; }")


def assert_accessible(page, axe) -> None:
    found = shots.axe_violations(page)
    assert found == [], "axe-core found serious or critical violations:\n" + "\n".join(found)


# -- desktop ---------------------------------------------------------------------------------------------


def test_desktop_two_cards_above_the_fold_and_source_beside_them(visit, real_searcher, axe, shot_dir):
    from playwright.sync_api import expect

    page = visit(shots.DESKTOP)
    expect(page.locator("#intro")).to_contain_text("not medical advice")
    shots.ask(page, shots.QUESTION)
    expected = real_searcher.ask(shots.QUESTION).passages[0]
    card = page.locator("#results .ipt-card").first
    # Plain language: the card is headed by its section and names its source; the file and offsets are folded.
    expect(card.locator(".ipt-title")).to_contain_text(expected.section)
    expect(card.locator(".ipt-from")).to_have_text(f"From: {expected.title}")
    expect(card.locator(".ipt-passage")).to_contain_text("Klerman")
    mark = card.locator("mark.ipt-hl")
    hl = expected.highlight
    expect(mark).to_have_text(expected.text[hl["start"] - expected.start:hl["end"] - expected.start])
    expect(card.locator(".ipt-rel")).to_have_text(f"{expected.label} match")
    # Above the fold at 1366x900: the whole first card and the start of the second, the page unmoved, focus
    # still in the question box for the next question.
    assert page.evaluate("window.scrollY") == 0
    expect(page.locator("#question textarea")).to_be_focused()
    assert in_viewport(page, "#results .ipt-card[data-rank='1']")
    second = page.locator("#results .ipt-card[data-rank='2'] .ipt-passage").bounding_box()
    assert second["y"] + 40 < 900, f"the second card's passage starts at y={second['y']:.0f}"
    where = card.locator(".ipt-details")
    expect(where.locator("dd").first).not_to_be_visible()
    where.locator("summary").click()
    expect(where.locator("dd").first).to_contain_text(f"{expected.path}, line")

    assert_accessible(page, axe)

    # Opening card 1: the source sits beside the results; the passage is highlighted and in view; focus follows.
    shots.open_source(page, 1)
    source = page.locator("#source")
    expect(source.locator(".ipt-source-title")).to_have_text(expected.title)
    expect(source.locator("#cited")).to_be_in_viewport()
    assert "".join(source.locator("mark.ipt-cited").all_inner_texts()) == expected.text.replace("\n", "")
    expect(source.locator("button.ipt-back")).to_be_hidden()  # beside the card there is nothing to go back to
    assert_accessible(page, axe)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot_dir / "desktop.png"))

    # Opening the last card's source keeps that card on screen (the source view is sticky, the page stays).
    last = page.locator("#results .ipt-card").last
    last.locator("button.ipt-cite").scroll_into_view_if_needed()
    last.locator("button.ipt-cite").click()
    expect(source.locator(".ipt-source-title")).to_be_focused()
    expect(source.locator("#cited")).to_be_in_viewport()
    assert in_viewport(page, "#results article.ipt-card:last-of-type button.ipt-cite")  # the suggestions follow it


def test_desktop_crisis_notice_is_focused_and_on_screen(visit):
    from playwright.sync_api import expect

    page = visit(shots.DESKTOP)
    shots.ask(page, shots.CRISIS)
    notice = page.locator("#results .ipt-notice")
    expect(notice).to_be_focused()
    expect(notice).to_have_attribute("role", "alert")
    assert in_viewport(page, "#results .ipt-notice")
    first = page.locator("#results .ipt-card, #results .ipt-abstain").first
    assert notice.bounding_box()["y"] < first.bounding_box()["y"]


# -- phone -----------------------------------------------------------------------------------------------


def test_phone_goes_to_the_results_and_back_from_the_source(visit, axe, shot_dir):
    from playwright.sync_api import expect

    page = visit(shots.PHONE)
    # The question box has the whole width, Ask sits below it at a usable size; no stray footer.
    box = page.locator("#question textarea").bounding_box()
    ask_button = page.locator("#ask").bounding_box()
    assert box["width"] >= 300 and ask_button["y"] >= box["y"] + box["height"]
    assert ask_button["width"] >= 300 and ask_button["height"] >= 40
    expect(page.locator("footer").filter(has_text="Settings")).to_be_hidden()

    shots.ask(page, shots.QUESTION)
    asked = page.locator("#results .ipt-asked")
    expect(asked).to_be_focused()  # which also closes the phone's keyboard
    assert page.evaluate("window.scrollY") > 300
    assert in_viewport(page, "#results .ipt-asked")
    # Card titles keep a readable width (they wrapped to a word a line beside the relevance badge).
    for title in page.locator("#results .ipt-title").all():
        assert title.bounding_box()["width"] >= 200
    assert_accessible(page, axe)
    page.screenshot(path=str(shot_dir / "phone.png"))

    # The source view is below every result: the page goes there, and "Back to the passage" returns.
    cite = page.locator("#results .ipt-card[data-rank='2'] button.ipt-cite")
    cite.scroll_into_view_if_needed()
    shots.open_source(page, 2)
    expect(page.locator("#source #cited")).to_be_in_viewport()
    assert not in_viewport(page, "#results .ipt-card[data-rank='2'] button.ipt-cite")
    page.locator("#source button.ipt-back").click()
    expect(cite).to_be_focused()
    assert in_viewport(page, "#results .ipt-card[data-rank='2'] button.ipt-cite")


def test_phone_crisis_notice_first_on_screen_with_tel_links_and_no_examples(visit, axe, shot_dir):
    from playwright.sync_api import expect

    page = visit(shots.PHONE)
    shots.ask(page, "I want to die")  # nothing in the sources answers it: the notice and a plain refusal
    notice = page.locator("#results .ipt-notice")
    expect(notice).to_be_focused()  # what a screen reader reads first, and role="alert" announces it
    expect(notice).to_have_attribute("role", "alert")
    assert page.locator("#results [role=alert]").count() == 1
    assert in_viewport(page, "#results .ipt-notice")
    assert page.evaluate("document.querySelector('#results .ipt-results').firstElementChild.className") \
        == "ipt-notice"
    expect(page.locator("#results .ipt-abstain")).to_contain_text("Nothing in the sources answers this question")
    assert page.locator("#results button[data-question]").count() == 0
    tel = notice.locator("a[href^='tel:']")
    assert tel.evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
        "tel:911", "tel:112", "tel:999", "tel:988", "tel:116123"]
    assert_accessible(page, axe)

    shots.ask(page, shots.CRISIS)  # a crisis question the sources do answer: the notice above the passages
    expect(notice).to_be_focused()
    assert in_viewport(page, "#results .ipt-notice")
    expect(notice).to_contain_text(CRISIS_NOTICE[:40])
    page.screenshot(path=str(shot_dir / "crisis.png"))


# -- dark mode -------------------------------------------------------------------------------------------


def test_dark_mode_is_readable(visit, real_searcher, axe, shot_dir):
    from playwright.sync_api import expect

    page = visit(shots.DARK)
    assert page.evaluate("document.body.classList.contains('dark')")
    shots.ask(page, shots.QUESTION)
    page.locator("#results .ipt-card").first.locator(".ipt-details summary").click()
    shots.open_source(page, 1)
    expect(page.locator("#source #cited")).to_be_in_viewport()
    assert_accessible(page, axe)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot_dir / "dark.png"))

    shots.ask(page, "What is the capital of France?")
    page.locator("#results .ipt-why > summary").click()
    page.locator("#results .ipt-why .ipt-details > summary").click()  # the refusal's text, all of it shown
    assert_accessible(page, axe)
    assert real_searcher.ask(WEAK).warnings, f"{WEAK!r} no longer gets a weak-match warning: pick another WEAK"
    shots.ask(page, WEAK)
    page.locator("#results .ipt-msg-warning summary").click()
    assert_accessible(page, axe)


# -- behaviour and safety (desktop) ----------------------------------------------------------------------


def test_example_button_and_also_in_citation(visit):
    from playwright.sync_api import expect

    page = visit()
    page.locator("#examples button", has_text="How long does IPT last?").click()
    expect(page.locator("#question textarea")).to_have_value("How long does IPT last?")
    expect(page.locator("#results .ipt-asked q")).to_have_text("How long does IPT last?")
    expect(page.locator("#results .ipt-card").first).to_be_visible()
    also = page.locator("#results button.ipt-cite-inline")
    if also.count():  # another source says the same: its citation opens that source
        title = also.first.inner_text()
        also.first.click()
        expect(page.locator("#source #cited")).to_be_in_viewport()
        expect(page.locator("#source .ipt-source-title")).to_have_text(title.split(" (")[0])


@pytest.mark.parametrize("view", [shots.DESKTOP, shots.PHONE], ids=["desktop", "phone"])
def test_what_can_i_ask_opens_by_keyboard_and_asks_the_chosen_question(visit, axe, view):
    """The bank's questions by source and section, collapsed; opened with the keyboard, a question asks itself."""
    from playwright.sync_api import expect

    page = visit(view)
    menu = page.locator("#ask-menu details.ipt-menu")
    expect(menu).not_to_have_attribute("open", "")
    menu.locator("> summary").focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    source = menu.locator("details.ipt-menu-source").first
    source.locator("> summary").focus()
    page.keyboard.press("Enter")
    button = source.locator("button[data-question]").first
    expect(button).to_be_visible()
    if view.phone:
        assert button.bounding_box()["width"] <= page.viewport_size["width"]
    assert_accessible(page, axe)
    question = button.inner_text()
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#results .ipt-asked q")).to_have_text(question)
    expect(page.locator("#results .ipt-card").first).to_be_visible()


def test_xss_question_shows_literally_and_runs_nothing(visit):
    from playwright.sync_api import expect

    page = visit()
    shots.ask(page, XSS)
    expect(page.locator("#results .ipt-asked q")).to_have_text(XSS)
    assert page.locator("#results img, #results script, #results svg").count() == 0
    # Nothing of the question became markup anywhere on the page, so no handler of it can fire later (rather
    # than waiting a while for one to; the fixture also checks that no dialog opened).
    injected = page.evaluate("""() => [...document.querySelectorAll('*')].filter(e =>
        (e.tagName === 'IMG' && e.getAttribute('src') === 'x')
        || (e.tagName === 'SCRIPT' && e.textContent.includes('alert('))
        || [...e.attributes].some(a => a.name.startsWith('on') && a.value.includes('alert'))).length""")
    assert injected == 0


def test_right_to_left_question_and_another_language(visit):
    from playwright.sync_api import expect

    page = visit()
    question = "מי יצר את הטיפול הבין-אישי?"
    shots.ask(page, question)
    assert page.locator("#question textarea").evaluate("e => e.matches(':dir(rtl)')")
    assert page.locator("#results .ipt-asked q").evaluate("e => e.matches(':dir(rtl)')")
    expect(page.locator("#results .ipt-abstain")).to_contain_text("The sources are in English: please ask in English.")
    shots.ask(page, "Who created IPT?")
    assert page.locator("#question textarea").evaluate("e => e.matches(':dir(ltr)')")


def test_abstention_weak_match_empty_question_and_no_sources(visit, real_searcher, axe):
    from playwright.sync_api import expect

    page = visit()
    assert real_searcher.ask(WEAK).warnings, f"{WEAK!r} no longer gets a weak-match warning: pick another WEAK"
    shots.ask(page, WEAK)
    warning = page.locator("#results .ipt-msg-warning")
    expect(warning).to_contain_text("The sources touch on this but may not answer it")
    expect(warning.locator("details p")).not_to_be_visible()  # "best similarity 0.56" only one click further
    assert_accessible(page, axe)

    shots.ask(page, "What is the capital of France?")
    abstain = page.locator("#results .ipt-abstain")
    expect(abstain).to_contain_text("Nothing in the sources answers this question")
    abstain.locator(".ipt-why > summary").click()
    expect(abstain.locator(".ipt-why")).to_contain_text("No passage in the five sources came close enough")
    expect(abstain.locator(".ipt-why details p")).not_to_be_visible()  # the figures, one click further
    page.locator("#results .ipt-abstain button[data-question]").first.click()  # the sources' own questions
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


# -- citing and the next question (desktop and phone) --------------------------------------------------------


@pytest.mark.parametrize("view", [shots.DESKTOP, shots.PHONE], ids=["desktop", "phone"])
def test_copy_a_citation_by_keyboard_and_ask_a_suggested_question(visit, real_searcher, axe, view):
    from playwright.sync_api import expect

    page = visit(view)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shots.ask(page, shots.QUESTION)
    expected = real_searcher.ask(shots.QUESTION).passages[0]
    card = page.locator("#results .ipt-card").first
    cite = card.locator(".ipt-cite-this")
    cite.locator("summary").focus()
    page.keyboard.press("Enter")  # opens "Cite this passage"
    expect(cite.locator(".ipt-ref-text").first).to_have_text(expected.citation["apa"])
    cite.locator("button[data-copy='apa']").focus()
    page.keyboard.press("Enter")
    expect(cite.locator(".ipt-copied")).to_have_text("APA citation copied.")
    assert page.evaluate("navigator.clipboard.readText()") == expected.citation["apa"]
    if view.phone:  # a thumb's size, below the citation
        box = cite.locator("button[data-copy='mla']").bounding_box()
        assert box["height"] >= 40
        cite.locator("button[data-copy='mla']").tap()
        expect(cite.locator(".ipt-copied")).to_have_text("MLA citation copied.")
        assert page.evaluate("navigator.clipboard.readText()") == expected.citation["mla"]
    assert_accessible(page, axe)

    suggested = page.locator("#results .ipt-suggest button[data-question]")
    assert 1 <= suggested.count() <= 3
    question = suggested.first.inner_text()
    suggested.first.scroll_into_view_if_needed()
    suggested.first.click()
    expect(page.locator("#results .ipt-asked q")).to_have_text(question)
    expect(page.locator("#question textarea")).to_have_value(question)
    shots.settled(page)
    expect(page.locator("#results .ipt-card").first).to_be_visible()
    assert_accessible(page, axe)

    # A refusal offers the sources' own questions instead of the fixed examples; a crisis notice, none.
    shots.ask(page, "What is the capital of France?")
    offered = page.locator("#results .ipt-abstain button[data-question]").all_inner_texts()
    assert offered and not set(offered) & set(EXAMPLE_QUESTIONS[3:])
    shots.ask(page, shots.CRISIS)
    assert page.locator("#results button[data-question]").count() == 0


def test_phone_polish_long_question_also_in_rows_and_source_first_line(visit, axe):
    from playwright.sync_api import expect

    page = visit(shots.PHONE)
    long_question = ("How long does interpersonal psychotherapy usually last for a teenager? " * 40)[:2000]
    box = page.locator("#question textarea")
    box.fill(long_question)
    box.press("Enter")
    asked = page.locator("#results .ipt-asked")
    expect(asked.locator("details summary")).to_contain_text("Show the whole question")
    shots.settled(page)
    assert asked.bounding_box()["height"] < 160, "the long question is echoed folded"
    assert_accessible(page, axe)

    shots.ask(page, "How long does IPT last?")
    rows = page.locator("#results .ipt-also li")
    if rows.count() >= 2:  # each source on its own row, apart from the next
        boxes = [r.bounding_box() for r in rows.all()]
        assert all(b["y"] + b["height"] + 4 <= c["y"] for b, c in zip(boxes, boxes[1:], strict=False))
    for item in rows.all():  # the bullet beside the first line of a wrapped link, not its last
        bullet_top = item.evaluate("li => parseFloat(getComputedStyle(li, '::before').lineHeight) || 0")
        assert item.evaluate("li => getComputedStyle(li).display") == "flex" and bullet_top >= 0

    shots.open_source(page, 1)
    first_cut = page.evaluate("""() => {
        const box = document.querySelector('#source .ipt-source-text');
        const top = box.getBoundingClientRect().top + box.clientTop;
        const line = [...box.querySelectorAll('.ipt-line')].find((l) => l.getBoundingClientRect().bottom > top + 1);
        return top - line.getBoundingClientRect().top;
    }""")
    assert first_cut <= 1, f"the source view's first visible line is cut by {first_cut:.0f} px under its header"


# -- an open page follows the build; a link to a question (issue 30, items 13 and 14) -------------------------


def test_open_page_follows_an_added_source_keeping_the_ticks(browser, tiny_corpus, tmp_path, fake_embedder):
    """After a source is added and built, a page opened before lists it (ticked) with its next answer."""
    from playwright.sync_api import expect

    from qa import open_searcher
    from qa.index.build import build_index
    from qa.settings import Settings

    settings, index = Settings(abstain=False), tmp_path / "index"
    build_index(tiny_corpus, index, fake_embedder, settings)
    searcher = open_searcher(index, tiny_corpus, settings=settings, embedder=fake_embedder, rebuild="never")
    with serve(searcher, tiny_corpus) as address:
        page = shots.DESKTOP.context(browser).new_page()
        page.set_default_timeout(shots.TIMEOUT)
        page.goto(address)
        page.get_by_text("Options: number of passages").click()
        boxes = page.locator("#sources")
        expect(boxes.get_by_label("Beta guide")).to_be_checked()
        boxes.get_by_label("Beta guide").uncheck()
        expect(boxes.get_by_label("Gamma handbook")).to_have_count(0)

        (tiny_corpus / "gamma.txt").write_text("Gamma handbook\n\nIPT works on grief, role disputes and role "
                                               "transitions over twelve to sixteen weeks.\n", encoding="utf-8")
        with (tiny_corpus / "sources.toml").open("a", encoding="utf-8") as f:
            f.write('\n[[source]]\nid = "gamma"\ntitle = "Gamma handbook"\nfile = "gamma.txt"\n')
        build_index(tiny_corpus, index, fake_embedder, settings)

        shots.ask(page, "How long does IPT last?")
        expect(boxes.get_by_label("Gamma handbook")).to_be_checked()  # new to the page: searched
        expect(boxes.get_by_label("Beta guide")).not_to_be_checked()  # the learner's choice stays
        expect(boxes.get_by_label("Alpha notes on IPT")).to_be_checked()
        page.context.close()


def test_a_link_to_a_question_answers_it_and_copy_link_gives_that_link(visit, url, real_searcher, axe):
    from playwright.sync_api import expect

    page = visit(shots.DESKTOP)
    page.goto(f"{url}/?q=who+created+ipt")
    expect(page.locator("#results .ipt-asked q")).to_have_text("who created ipt")
    expect(page.locator("#question textarea")).to_have_value("who created ipt")
    expected = real_searcher.ask("who created ipt").passages[0]
    expect(page.locator("#results .ipt-card").first.locator(".ipt-passage")).to_contain_text(expected.text[:40])
    shots.settled(page)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shots.ask(page, shots.QUESTION)
    share = page.locator("#results .ipt-share")
    share.locator("button[data-link]").focus()
    page.keyboard.press("Enter")
    expect(share.locator("[role=status]")).to_have_text("Link copied.")
    link = page.evaluate("navigator.clipboard.readText()")
    assert link.startswith(f"{url}/?q=")
    assert_accessible(page, axe)

    other = visit(shots.PHONE)
    other.goto(link)
    expect(other.locator("#results .ipt-asked q")).to_have_text(shots.QUESTION)
    first = real_searcher.ask(shots.QUESTION).passages[0]
    expect(other.locator("#results .ipt-card").first.locator(".ipt-passage")).to_contain_text(first.text[:40])
    assert_accessible(other, axe)
