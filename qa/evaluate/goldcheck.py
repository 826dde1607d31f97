"""Gold-set maintenance: rows whose quote no longer occurs in its source (errors: the row cannot be scored)
and weak rows (warnings: the row can be scored but measures less than it seems to)."""

from __future__ import annotations

import re

from qa.evaluate.gold import GoldQuestion, is_relevant, quote_spans, relevant_spans

COPIED_WORDS = 8  # a question holding this many consecutive words of its own quote gives its answer away
MIN_QUOTE_WORDS = 4  # a shorter quote matches passages that do not answer the question
_WORD_RE = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.casefold())


def broken_rows(questions: list[GoldQuestion], texts: dict[str, str]) -> dict[str, list[str]]:
    """{question id: one message per answer that cannot be located (id, source, quote)}."""
    out: dict[str, list[str]] = {}
    for q in questions:
        for a in q.answers:
            if a.source_id not in texts:
                msg = f"{q.id}: source {a.source_id!r} is not in the corpus (quote {a.quote[:80]!r})"
            elif not quote_spans(texts[a.source_id], a.quote):
                msg = f"{q.id}: quote no longer in {a.source_id}: {a.quote[:80]!r}"
            else:
                continue
            out.setdefault(q.id, []).append(msg)
    return out


def gold_warnings(questions: list[GoldQuestion], texts: dict[str, str], passages=None) -> list[str]:
    """Weak rows, one line each naming the question: a question that copies 8+ consecutive words of its
    own quote, a quote under 4 words, a quote found more than once in its source, duplicate questions;
    with `passages` (the segmentation), also an answerable question whose quotes no passage holds (the
    text was dropped as page chrome), which no retriever can ever answer."""
    out = []
    for q in questions:
        if passages is not None and q.answerable and all(a.source_id in texts for a in q.answers):
            spans = relevant_spans(q, texts)
            if not any(is_relevant(p.source_id, p.start, p.end, spans) for p in passages):
                out.append(f"{q.id}: no passage holds any of its quotes (dropped from the passages as page "
                           f"chrome?), so it can never be answered: {q.answers[0].quote[:80]!r}")
        qwords = _words(q.question)
        qgrams = {tuple(qwords[i:i + COPIED_WORDS]) for i in range(len(qwords) - COPIED_WORDS + 1)}
        for a in q.answers:
            awords = _words(a.quote)
            copied = next((g for g in (tuple(awords[i:i + COPIED_WORDS])
                                       for i in range(len(awords) - COPIED_WORDS + 1)) if g in qgrams), None)
            if copied:
                out.append(f"{q.id}: the question copies {COPIED_WORDS}+ consecutive words of its gold quote "
                           f"({' '.join(copied)!r})")
            if len(a.quote.split()) < MIN_QUOTE_WORDS:
                out.append(f"{q.id}: quote under {MIN_QUOTE_WORDS} words, it may match passages that do not "
                           f"answer the question: {a.quote!r} ({a.source_id})")
            n = len(quote_spans(texts.get(a.source_id, ""), a.quote))
            if n > 1:
                out.append(f"{q.id}: quote occurs {n} times in {a.source_id}, every occurrence counts as "
                           f"acceptable: {a.quote[:80]!r}")
    seen: dict[str, str] = {}
    for q in questions:
        key = " ".join(_words(q.question))
        if key in seen:
            out.append(f"{q.id}: the same question as {seen[key]}: {q.question!r}")
        else:
            seen[key] = q.id
    return out
