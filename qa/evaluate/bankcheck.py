"""Checks of the question banks (qa/ingest/banks.py) against the gold set: the held-out splits must stay held
out, so no bank question may be a near-copy of a gold question of any split: the same question once
normalised (qa/ingest/banks.normalise), or a cosine of at least NEAR_COPY_COSINE with the bundled model."""

from __future__ import annotations

import numpy as np

from qa.ingest.banks import load_bank, normalise

NEAR_COPY_COSINE = 0.92


def near_copies(bank: list[str], gold: list[str], encode=None, threshold: float = NEAR_COPY_COSINE
                ) -> list[tuple[int, int, float]]:
    """(bank row, gold row, cosine) of every bank question that copies a gold question; `encode` (texts ->
    L2-normalised vectors) adds the cosine test, else only the normalised-text one."""
    gold_keys: dict[str, int] = {}
    for j, g in enumerate(gold):
        gold_keys.setdefault(normalise(g), j)
    out = {i: (i, gold_keys[normalise(q)], 1.0) for i, q in enumerate(bank) if normalise(q) in gold_keys}
    if encode is not None and bank and gold:
        sims = np.asarray(encode(bank)) @ np.asarray(encode(gold)).T
        for i, j in zip(*np.nonzero(sims >= threshold), strict=True):
            if int(i) not in out or sims[i, j] > out[int(i)][2]:
                out[int(i)] = (int(i), int(j), float(sims[i, j]))
    return sorted(out.values())


def bank_problems(corpus_dir, texts: dict[str, str], gold: list[str]) -> tuple[list[str], int]:
    """What `ipt-qa eval --check` says of the banks: one line per stale row and per bank question that is the
    same as a gold question once normalised (the cosine test needs the model: tests/evaluate/test_banks.py),
    and the number of usable rows. A malformed row raises CorpusError naming its file and line."""
    bank = load_bank(corpus_dir, texts)
    out = [f"{r.file}, line {r.line}: stale, the quote is no longer in {r.source_id or 'its source'}: "
           f"{r.quote[:80]!r}" for r in bank.stale]
    questions = [r.question for r in bank.rows]
    out += [f"{bank.rows[i].file}, line {bank.rows[i].line}: the same question as a gold question "
            f"(row {j + 1} of the gold set); the held-out splits must stay held out"
            for i, j, _ in near_copies(questions, gold)]
    return out, len(bank.rows)
