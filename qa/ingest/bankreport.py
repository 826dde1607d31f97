"""`ipt-qa bank`: what the question banks cover. Passages with too few answerable questions (a learner asking
about them gets no help from the bank), rows outside every passage, and stale rows (their quote is gone)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa.ingest.banks import ANSWER, NEAR_MISS, OFF_TOPIC, Bank, BankRow, parse_bank, passage_of
from qa.ingest.corpus import read_corpus
from qa.ingest.passages import Passage, segment
from qa.settings import Settings

MIN_QUESTIONS = 5  # a passage with fewer answerable questions is listed as thin


@dataclass
class Coverage:
    passages: list[Passage]
    per_passage: list[int]  # answerable questions per passage
    near_per_passage: list[int]  # near-miss questions per passage (by the part of the text they sit closest to)
    outside: list[BankRow]  # answer rows whose quote lies in no passage (dropped page chrome)
    bank: Bank

    def per_source(self) -> dict[str, list[int]]:
        """Answerable questions per passage, by source."""
        out: dict[str, list[int]] = {}
        for p, n in zip(self.passages, self.per_passage, strict=True):
            out.setdefault(p.source_id, []).append(n)
        return out


def coverage(corpus_dir: str | Path, settings: Settings | None = None) -> Coverage:
    corpus = read_corpus(corpus_dir)
    passages = [p for src in corpus.sources for p in segment(src, settings or Settings())]
    bank = parse_bank(corpus_dir, corpus.banks, {s.id: s.text for s in corpus.sources})
    per, near = [0] * len(passages), [0] * len(passages)
    outside = []
    for r in bank.rows:
        if r.kind == OFF_TOPIC:
            continue
        i = passage_of(BankRow(r.question, ANSWER, r.source_id, r.quote, r.file, r.line, r.start, r.end), passages)
        if i < 0:
            if r.kind == ANSWER:
                outside.append(r)
        elif r.kind == NEAR_MISS:
            near[i] += 1
        else:
            per[i] += 1
    return Coverage(passages, per, near, outside, bank)


def report_lines(cov: Coverage, minimum: int = MIN_QUESTIONS) -> list[str]:
    """The readable report of `ipt-qa bank`."""
    rows = cov.bank.rows
    answers = sum(r.kind == ANSWER for r in rows)
    out = [f"question bank: {answers} answerable, {sum(r.kind == NEAR_MISS for r in rows)} near-miss, "
           f"{sum(r.kind == OFF_TOPIC for r in rows)} off-topic rows; {len(cov.bank.stale)} stale; "
           f"{len(cov.outside)} answerable row(s) quote text outside every passage"]
    thin = [(i, n) for i, n in enumerate(cov.per_passage) if n < minimum]
    out.append(f"passages with fewer than {minimum} answerable questions: {len(thin)} of {len(cov.passages)}")
    for i, n in thin:
        p = cov.passages[i]
        first = " ".join(p.text.split())[:70]
        out.append(f"  {p.source_id}:{p.line_start}-{p.line_end}  {n} question(s), {cov.near_per_passage[i]} "
                   f"near-miss  {first!r}")
    if cov.bank.stale:
        out.append("stale rows (their quote is no longer in the source; fix the quote or delete the row):")
        out += [f"  {r.file}:{r.line}  {r.source_id or '(no source)'}  {r.question!r}  quote {r.quote[:60]!r}"
                for r in cov.bank.stale]
    for r in cov.outside:
        out.append(f"  outside every passage: {r.file}:{r.line}  {r.question!r}  quote {r.quote[:60]!r}")
    return out
