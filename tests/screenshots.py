"""Driving the real page in Debian's chromium: the helpers the browser test uses, and the command that makes
the screenshots docs/ shows.

    python -m tests.screenshots docs/screenshots    # desktop.png, phone.png, dark.png, crisis.png, cite.png

The command serves the page on 127.0.0.1 for the index in index/ (built first if missing or stale), takes the
four pictures and writes them into the given folder. The test suite never writes into the repository: it
saves its own pictures into a temporary folder.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# axe-core, the locked version of tests/a11y/package.json, installed there by scripts/run-tests.sh (npm ci).
AXE_DIR = ROOT / "tests" / "a11y"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT = 30_000  # ms; the first question also warms the model up

QUESTION = "Who created interpersonal psychotherapy?"
CRISIS = "I keep thinking about suicide. Can IPT help with depression?"


@dataclass(frozen=True)
class View:
    width: int
    height: int
    dark: bool = False
    phone: bool = False

    def context(self, browser):
        """A fresh browser context (own storage) for this view."""
        return browser.new_context(viewport={"width": self.width, "height": self.height},
                                   color_scheme="dark" if self.dark else "light",
                                   is_mobile=self.phone, has_touch=self.phone)


DESKTOP = View(1366, 900)
PHONE = View(390, 844, phone=True)
DARK = View(1366, 900, dark=True)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def open_page(context, url: str):
    """A page on the app, its question box ready."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return page


def settled(page) -> None:
    """Wait until no event is pending on the results or the source view."""
    page.wait_for_function("() => !document.querySelector('#results .pending, #source .pending')")


def ask(page, question: str) -> None:
    """Type a question, press Enter, and wait until the page shows the answer to it."""
    from playwright.sync_api import expect

    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#results .ipt-asked q")).to_have_text(" ".join(question.split()))
    settled(page)


def open_source(page, rank: int) -> None:
    """Click "Show in source" on card `rank` and wait until the source view shows the passage, focused."""
    from playwright.sync_api import expect

    page.locator(f"#results .ipt-card[data-rank='{rank}'] button.ipt-cite").click()
    expect(page.locator("#source #cited")).to_be_attached()
    settled(page)
    expect(page.locator("#source .ipt-source-title")).to_be_focused()


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """axe-core run over the whole page as it is now: one line per violation of the given impacts."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary)}));
    }""")
    return [f"{v['impact']} {v['id']} ({v['help']}): " + " | ".join(v["nodes"]) for v in found
            if v["impact"] in impacts]


def install_axe() -> None:
    """npm ci into tests/a11y (the same as scripts/run-tests.sh), when it is not there yet."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"], check=True,
                       stdout=subprocess.DEVNULL)


# -- the four pictures -------------------------------------------------------------------------------------


def shoot_desktop(page, path: Path) -> None:
    """The results of QUESTION with card 1 opened in its source, from the top of the page."""
    ask(page, QUESTION)
    open_source(page, 1)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))


def shoot_phone(page, path: Path) -> None:
    """On a phone, right after Ask: the page has moved to the results."""
    ask(page, QUESTION)
    page.screenshot(path=str(path))


def shoot_crisis(page, path: Path) -> None:
    """On a phone, a question that mentions suicide: the notice first, on screen."""
    ask(page, CRISIS)
    page.screenshot(path=str(path))


def shoot_cite(page, path: Path) -> None:
    """The first card's "Cite this passage" opened, APA copied, and the questions the sources also answer."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, QUESTION)
    card = page.locator("#results .ipt-card").first
    card.locator(".ipt-cite-this summary").click()
    card.locator("button[data-copy='apa']").click()
    card.locator(".ipt-cite-this").scroll_into_view_if_needed()
    page.locator("#results .ipt-cite-this").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(path))


SHOTS = {"desktop": (DESKTOP, shoot_desktop), "phone": (PHONE, shoot_phone),
         "dark": (DARK, shoot_desktop), "crisis": (PHONE, shoot_crisis), "cite": (DESKTOP, shoot_cite)}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.screenshots OUT_DIR   (e.g. docs/screenshots)", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        print(f"screenshots: {CHROMIUM} is missing; install it with: apt-get install -y chromium", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from app_support import serve
    from playwright.sync_api import expect, sync_playwright

    from qa import open_searcher
    from qa.paths import default_corpus, default_index

    expect.set_options(timeout=TIMEOUT)
    searcher = open_searcher(default_index(), default_corpus())
    with serve(searcher) as url, sync_playwright() as p:
        browser = launch(p)
        for name, (view, shoot) in SHOTS.items():
            context = view.context(browser)
            shoot(open_page(context, url), out / f"{name}.png")
            context.close()
            print(out / f"{name}.png")
        browser.close()
    return 0


if __name__ == "__main__":
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    raise SystemExit(main(sys.argv[1:]))
