"""Segmentation: every passage is an exact, cited slice of its source, headings and lead-ins stay with what
they introduce, and web-page chrome never becomes a passage. Runs on each of the five real sources, then on
small hand-made texts for the rules the real corpus does not exercise (long paragraphs, Markdown, ...)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.ingest.corpus import Source, load_corpus
from qa.ingest.passages import segment, sentence_contexts
from qa.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SOURCES = load_corpus(ROOT / "corpus")
BY_ID = {s.id: s for s in SOURCES}
LIMIT = Settings().max_passage_chars

# Page chrome seen in the real sources: none of these lines may be part of a passage.
CHROME_LINES = {
    "sign up Log in",
    "Continue with Facebook",
    "Continue with Google",
    "Already a Member? Log in",
    ", , , ,",
    "Connect with others who understand.",
    "Resources",
    "About MyDepressionTeam",
    "Powered By",
    "James Park",  # byline around "Author"
    "Author",
}
CHROME_PREFIXES = ("Lock Icon Your privacy",)


def is_chrome(line: str) -> bool:
    line = line.strip()
    return line in CHROME_LINES or line.startswith(CHROME_PREFIXES)


def lines_with_offsets(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def passage_with(passages, source: Source, needle: str):
    """The passage whose span holds the one occurrence of `needle` in the source."""
    at = source.text.find(needle)
    assert at >= 0, f"{needle!r} is not in {source.id}"
    assert source.text.find(needle, at + 1) < 0, f"{needle!r} occurs more than once in {source.id}"
    found = [p for p in passages if p.start <= at and at + len(needle) <= p.end]
    assert len(found) == 1, f"{needle!r} should lie inside exactly one passage, not {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def segmented() -> dict[str, list]:
    return {s.id: segment(s) for s in SOURCES}


def test_the_real_corpus_has_five_sources():
    assert len(SOURCES) == 5


# --- invariants on each real source ----------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.id)
class TestRealSource:
    def test_passages_are_exact_slices_of_the_file(self, source, segmented):
        passages = segmented[source.id]
        assert passages, f"{source.id} gave no passage"
        on_disk = Path(source.path).read_text(encoding="utf-8")
        assert on_disk == source.text
        for p in passages:
            assert p.source_id == source.id
            assert 0 <= p.start < p.end <= len(on_disk)
            assert p.text == on_disk[p.start:p.end]
            assert p.text.strip(), f"{p.id} is blank"
            assert p.end - p.start <= LIMIT, f"{p.id} is {p.end - p.start} characters long"
        assert len({p.id for p in passages}) == len(passages)

    def test_line_numbers_are_one_based_and_right(self, source, segmented):
        file_lines = source.text.split("\n")
        for p in segmented[source.id]:
            assert p.line_start == source.text.count("\n", 0, p.start) + 1
            assert p.line_end == source.text.count("\n", 0, p.end) + 1
            assert p.line_start <= p.line_end
            # The first and last lines cited hold the passage's first and last characters.
            assert file_lines[p.line_start - 1].strip() and file_lines[p.line_start - 1].strip() in p.text
            assert p.text.rstrip().endswith(file_lines[p.line_end - 1].strip())

    def test_passages_are_in_order_and_do_not_overlap(self, source, segmented):
        passages = segmented[source.id]
        for a, b in zip(passages, passages[1:], strict=False):
            assert a.end <= b.start, f"{a.id} [{a.start}:{a.end}] overlaps {b.id} [{b.start}:{b.end}]"

    def test_sentence_spans_lie_inside_their_passage(self, source, segmented):
        for p in segmented[source.id]:
            assert p.sentences, f"{p.id} has no sentence"
            prev_end = p.start
            for a, b in p.sentences:
                assert prev_end <= a < b <= p.end, f"{p.id}: sentence [{a}:{b}] outside [{p.start}:{p.end}]"
                sentence = source.text[a:b]
                assert sentence == sentence.strip() and "\n" not in sentence
                prev_end = b
            if p.heading_end != -1:
                assert p.start < p.heading_end <= p.end

    def test_no_passage_is_page_chrome(self, source, segmented):
        for p in segmented[source.id]:
            chrome = [ln for ln in p.text.split("\n") if is_chrome(ln)]
            assert not chrome, f"{p.id} contains page chrome {chrome}"

    def test_only_chrome_and_the_page_title_are_left_out(self, source, segmented):
        """Every other line of text is quoted by some passage, whole."""
        passages = segmented[source.id]
        for a, b, line in lines_with_offsets(source.text):
            if not line.strip():
                continue
            a2, b2 = a + len(line) - len(line.lstrip()), b - (len(line) - len(line.rstrip()))
            inside = any(p.start <= a2 and b2 <= p.end for p in passages)
            partly = any(p.start < b and a < p.end for p in passages)
            assert inside or not partly, f"line {line!r} of {source.id} is cut across passages"
            if not inside:
                assert is_chrome(line) or line.strip() == source.title, \
                    f"{source.id}: the line {line!r} is in no passage"


def test_the_chrome_checked_for_really_is_in_the_corpus():
    """Otherwise the chrome test above would pass for want of chrome."""
    all_lines = {ln.strip() for s in SOURCES for ln in s.text.split("\n")}
    assert all_lines >= CHROME_LINES
    assert any(ln.startswith(CHROME_PREFIXES) for ln in all_lines)


def test_a_dateline_is_a_passage_of_its_own(segmented):
    """ "when was this last updated" has an answer: the dateline, kept apart from the article's first paragraph
    (which keeps the page title as its heading)."""
    src = BY_ID["focus-of-ipt"]
    p = passage_with(segmented[src.id], src, "Last updated on January 24, 2024")
    assert p.text == "by | Last updated on January 24, 2024" and p.section == "About this page"
    first = passage_with(segmented[src.id], src, "IPT is a form of psychotherapy that focuses on relieving")
    assert first.section == "What Is The Focus Of IPT?" and "updated" not in first.text


# --- headings, lists and lead-ins in the real sources --------------------------------------------------------

def test_question_heading_is_attached_to_its_answer(segmented):
    src = BY_ID["focus-of-ipt"]
    p = passage_with(segmented[src.id], src, "Gerald L. Klerman and Myrna M. Weissman initially created")
    assert p.section == "Who created IPT?"
    assert p.text.startswith("Who created IPT?")
    assert p.heading_end == p.start + len("Who created IPT?")


def test_key_principles_bullets_keep_their_section(segmented):
    src = BY_ID["ipt-definition"]
    lines = src.text.split("\n")
    first = next(i for i, ln in enumerate(lines) if ln.startswith("Key Principles"))
    bullets = []
    for ln in lines[first + 1:]:
        if ln.strip().startswith("•"):
            bullets.append(ln.strip())
        elif ln.strip():
            break
    assert len(bullets) >= 5
    for b in bullets:
        assert passage_with(segmented[src.id], src, b).section == "Key Principles", b
    # The heading leads the first of them.
    assert passage_with(segmented[src.id], src, bullets[0]).text.startswith("Key Principles:")


def test_heading_directly_above_its_paragraph_stays_with_it(segmented):
    src = BY_ID["mydepressionteam-ipt"]
    p = passage_with(segmented[src.id], src, "Overview\nInterpersonal therapy (IPT) is one type")
    assert p.section == "Overview"
    assert p.text.startswith("Overview\nInterpersonal therapy (IPT) is one type")


@pytest.mark.parametrize("lead_in, items", [
    ("The purpose of IPT is to help patients to:",
     ["Improve their interpersonal relationships", "Reduce their symptoms of depression",
      "Prevent future episodes of depression"]),
    ("IPT is most effective for people with mild to moderate depression",
     ["Grief and loss", "Social isolation", "Role disputes"]),
])
def test_list_stays_with_its_lead_in(segmented, lead_in, items):
    src = BY_ID["ipt-purpose-video"]
    p = passage_with(segmented[src.id], src, lead_in)
    for item in items:
        assert passage_with(segmented[src.id], src, item) is p, f"{item!r} is not with {lead_in!r}"


def test_list_item_is_embedded_with_its_lead_in(segmented):
    src = BY_ID["ipt-purpose-video"]
    p = passage_with(segmented[src.id], src, "Social isolation")
    contexts = dict(zip((src.text[a:b] for a, b in p.sentences), sentence_contexts(p, src.text), strict=False))
    item = next(s for s in contexts if "Social isolation" in s)
    assert contexts[item].startswith("IPT is most effective for people with mild to moderate depression")
    assert contexts[item].endswith(item)


def test_passage_context_carries_title_and_section(segmented):
    src = BY_ID["ipt-definition"]
    p = passage_with(segmented[src.id], src, "Time-limited: IPT is typically administered")
    assert p.context.startswith(src.title)
    assert "Key Principles" in p.context and p.text in p.context


# --- hand-made sources -----------------------------------------------------------------------------------------

def make_source(tmp_path: Path, text: str, name: str = "doc.txt", title: str = "Doc") -> Source:
    """Write `text` as a one-source corpus and load it the way the application does."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / name).write_bytes(text.encode("utf-8"))
    (corpus / "sources.toml").write_text(f'[[source]]\nid = "doc"\ntitle = "{title}"\nfile = "{name}"\n',
                                         encoding="utf-8")
    (src,) = load_corpus(corpus)
    return src


def check_invariants(src: Source, passages) -> None:
    on_disk = Path(src.path).read_text(encoding="utf-8")
    for p in passages:
        assert p.text == on_disk[p.start:p.end]
        assert p.end - p.start <= LIMIT
        assert p.line_start == on_disk.count("\n", 0, p.start) + 1
        assert p.line_end == on_disk.count("\n", 0, p.end) + 1
        assert all(p.start <= a < b <= p.end for a, b in p.sentences)
    for a, b in zip(passages, passages[1:], strict=False):
        assert a.end <= b.start


def test_file_without_final_newline(tmp_path):
    text = "What is IPT?\n\nIPT is a talking therapy. It lasts about twelve weeks."
    src = make_source(tmp_path, text)
    assert not src.text.endswith("\n")
    passages = segment(src)
    check_invariants(src, passages)
    (p,) = passages
    assert (p.start, p.end) == (0, len(text))
    assert (p.line_start, p.line_end) == (1, 3)
    assert src.text[p.sentences[-1][0]:p.sentences[-1][1]] == "It lasts about twelve weeks."


def test_long_paragraph_is_split_at_sentence_boundaries(tmp_path):
    sentences = [f"Sentence {i} says that interpersonal therapy helps people with their relationships." for i in
                 range(25)]
    paragraph = " ".join(sentences)
    assert len(paragraph) > 2 * LIMIT
    text = f"Long section\n\n{paragraph}\n\nShort closing words.\n"
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    start = text.index(paragraph)
    end = start + len(paragraph)
    pieces = [p for p in passages if p.start < end and start < p.end]
    assert len(pieces) >= 3
    clipped = [text[max(p.start, start):min(p.end, end)] for p in pieces]
    for p, body in zip(pieces, clipped, strict=False):
        # Each piece begins and ends at a sentence boundary (the last may go on with the next, short paragraph).
        assert body.startswith("Sentence ") and body.endswith("relationships."), body[:40] + "..." + body[-40:]
        assert p.section == "Long section"
    # Together the pieces cover the paragraph: only the spaces between sentences are left out.
    assert pieces[0].start <= start and pieces[-1].end >= end
    for a, b in zip(pieces, pieces[1:], strict=False):
        assert text[a.end:b.start].isspace()
    assert " ".join(clipped) == paragraph


@pytest.mark.parametrize("paragraph", [
    " ".join(["interpersonal"] * 160),  # one "sentence" of 2,239 characters: cut between words
    "x" * 1600,  # no space at all: cut hard
], ids=["one-long-sentence", "one-long-word"])
def test_paragraph_without_sentence_breaks_is_still_capped(tmp_path, paragraph):
    text = f"Heading\n\n{paragraph}\n"
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    start = text.index(paragraph)
    pieces = [p for p in passages if p.end > start]
    assert len(pieces) >= 3
    assert "".join(text[max(p.start, start):p.end] for p in pieces).replace(" ", "") == paragraph.replace(" ", "")


def test_markdown_headings_become_sections(tmp_path):
    text = ("# Guide\n\nAn introduction to the guide.\n\n## Problem areas\n\nIPT works on four problem areas:\n\n"
            "- grief after a loss\n- role disputes with others\n- role transitions\n- social isolation\n\n"
            "## Cost ##\n\nTherapy can be expensive if you pay privately.")
    src = make_source(tmp_path, text, name="guide.md", title="Guide")
    assert src.is_markdown
    passages = segment(src)
    check_invariants(src, passages)
    assert [p.section for p in passages] == ["Guide", "Problem areas", "Cost"]
    problem = passages[1]
    assert problem.text.startswith("## Problem areas")
    assert "IPT works on four problem areas:" in problem.text and problem.text.endswith("- social isolation")
    assert passages[2].text.startswith("## Cost ##")


def test_hash_line_in_a_text_file_is_not_a_markdown_heading(tmp_path):
    text = "Notes\n\n# not a heading in a .txt file, just text.\n"
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    assert all(p.section != "not a heading in a .txt file, just text." for p in passages)


def test_heading_followed_by_chrome_labels_the_text_after_it(tmp_path):
    text = ("Page Title\n\nsign up Log in\n\nContinue with Google\n\n"
            "The body of the page explains interpersonal therapy.\n")
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    (p,) = passages
    assert p.text == "The body of the page explains interpersonal therapy."
    assert p.section == "Page Title"
    assert p.heading_end == -1  # the heading is not part of the quoted span: chrome stands between them


def test_heading_after_chrome_replaces_the_page_title(tmp_path):
    text = "Page Title\n\nsign up Log in\n\nReal heading\n\nThe text under the real heading.\n"
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    (p,) = passages
    assert p.section == "Real heading"
    assert p.text == "Real heading\n\nThe text under the real heading."


def test_question_and_answer_pairs(tmp_path):
    text = ("What is IPT?\n\nIPT is a short talking therapy for depression.\n\n"
            "How long does it last?\n\nUsually 12 to 16 weekly sessions.\n")
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    assert [(p.section, p.text) for p in passages] == [
        ("What is IPT?", "What is IPT?\n\nIPT is a short talking therapy for depression."),
        ("How long does it last?", "How long does it last?\n\nUsually 12 to 16 weekly sessions."),
    ]
    # The highlightable sentences are the answer's, not the question heading's.
    assert [src.text[a:b] for a, b in passages[0].sentences] == ["IPT is a short talking therapy for depression."]


def test_initials_and_abbreviations_do_not_end_a_sentence(tmp_path):
    text = ("Origins\n\nGerald L. Klerman and Myrna M. Weissman created IPT. Dr. Park wrote about it, "
            "e.g. in magazines. It is used widely.\n")
    src = make_source(tmp_path, text)
    (p,) = segment(src)
    assert [src.text[a:b] for a, b in p.sentences] == [
        "Gerald L. Klerman and Myrna M. Weissman created IPT.",
        "Dr. Park wrote about it, e.g. in magazines.",
        "It is used widely.",
    ]


def unclosed_bracket(sentence: str) -> bool:
    """Does `sentence` end inside a parenthesis or bracket it opened?"""
    stack: list[str] = []
    for ch in sentence:
        if ch in "([":
            stack.append(ch)
        elif ch in ")]" and stack and stack[-1] == {")": "(", "]": "["}[ch]:
            stack.pop()
    return bool(stack)


def sentences_of(tmp_path: Path, paragraph: str) -> list[str]:
    src = make_source(tmp_path, f"Heading\n\n{paragraph}\n")
    (p,) = segment(src)
    return [src.text[a:b] for a, b in p.sentences]


@pytest.mark.parametrize("paragraph,want", [
    # A full stop inside a parenthesis or bracket does not end the sentence around it.
    ("IPT was tested widely (see Weissman et al. 2000. Markowitz 1998) and it works. It is brief.",
     ["IPT was tested widely (see Weissman et al. 2000. Markowitz 1998) and it works.", "It is brief."]),
    ("It helps with grief [Note. Not with everything.] It is brief.",
     ["It helps with grief [Note. Not with everything.]", "It is brief."]),
    ("It is a talking therapy. (It was first tested in 1984. Trials followed.) It is brief.",
     ["It is a talking therapy.", "(It was first tested in 1984. Trials followed.)", "It is brief."]),
    # Nor does the full stop of a common abbreviation.
    ("It takes approx. 12 weeks. It is brief.", ["It takes approx. 12 weeks.", "It is brief."]),
    ("IPT vs. CBT was compared. Both helped.", ["IPT vs. CBT was compared.", "Both helped."]),
    ("Klerman et al. Wrote the manual in 1984. It is used.",
     ["Klerman et al. Wrote the manual in 1984.", "It is used."]),
    ("Some goals, i.e. Better sleep, come first. E.g. Grief is one area. It is brief.",
     ["Some goals, i.e. Better sleep, come first.", "E.g. Grief is one area.", "It is brief."]),
    ("Ask Dr. Park. Prof. Weissman agrees.", ["Ask Dr. Park.", "Prof. Weissman agrees."]),
    # A sentence that the source leaves inside an open parenthesis (a page cut mid-citation) is highlighted
    # up to where the parenthesis opens, not as a fragment ending in "(Weissman et al.".
    ("It was developed for the treatment of depression (Weissman et al.",
     ["It was developed for the treatment of depression"]),
    ("IPT is brief. It was developed for depression (Weissman et al. 2000",
     ["IPT is brief.", "It was developed for depression"]),
])
def test_a_sentence_never_ends_inside_brackets_or_after_an_abbreviation(tmp_path, paragraph, want):
    got = sentences_of(tmp_path, paragraph)
    assert got == want
    assert not any(unclosed_bracket(x) for x in got)


def test_a_long_paragraph_cut_mid_parenthesis_loses_no_text(tmp_path):
    """Passages still cover the whole paragraph: only the highlightable sentence stops before the open
    parenthesis, the quoted passage keeps it."""
    paragraph = ("IPT is a structured therapy for depression with a clear focus. " * 40
                 + "It was developed by Klerman and Weissman (Weissman et al.")
    src = make_source(tmp_path, f"Heading\n\n{paragraph}\n")
    passages = segment(src)
    check_invariants(src, passages)
    assert passages[-1].text.endswith("(Weissman et al.")
    assert src.text[slice(*passages[-1].sentences[-1])] == "It was developed by Klerman and Weissman"


def test_no_sentence_of_the_real_corpus_ends_inside_brackets(segmented):
    for source in SOURCES:
        for p in segmented[source.id]:
            for a, b in p.sentences:
                assert not unclosed_bracket(source.text[a:b]), (p.id, source.text[a:b])


def test_unusual_characters_keep_offsets_exact(tmp_path):
    text = ("Intro\u2028with a line separator\n\n\tTabbed heading\n\nText with a form feed\x0c here. "
            "And a next-line\x85char. Emoji 🙂 and right-to-left \u202eטקסט\u202c text.\n\n"
            "\ufeffZero width\u200b joiner text.\n")
    src = make_source(tmp_path, text)
    passages = segment(src)
    assert passages
    check_invariants(src, passages)


def test_crlf_file_offsets_match_text_mode_read(tmp_path):
    text = "What is IPT?\r\n\r\nIPT is a talking therapy.\r\n\r\nsign up Log in\r\n"
    src = make_source(tmp_path, text)
    passages = segment(src)
    check_invariants(src, passages)
    assert [p.text for p in passages] == ["What is IPT?\n\nIPT is a talking therapy."]


def test_segmentation_is_deterministic():
    src = BY_ID["understanding-ipt"]
    assert segment(src) == segment(src)


def test_sections_in_the_real_corpus_are_headings_not_sentences(segmented):
    for sid, passages in segmented.items():
        for p in passages:
            assert len(p.section) <= 250
            assert not re.search(r"[.!,;]$", p.section), (sid, p.section)
