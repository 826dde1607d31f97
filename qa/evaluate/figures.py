"""The headline figures of an evaluation, as README.md shows them: written by `ipt-qa eval` beside its report
(eval/figures.json) and rendered into README's tables by `python scripts/readme_figures.py`, so the README
never states a figure the last run did not give (tests/evaluate/test_readme_figures.py checks it)."""

from __future__ import annotations

import json
from pathlib import Path

from qa.evaluate.modes import MODES

SPLITS = ("test", "test2", "test3", "dev")
KEYS = ("answerable", "off_topic", "Recall@1", "Recall@5", "mrr@10", "wrongly_abstained", "abstain_recall",
        "ans_answered", "ans_right_answered", "ans_may-not-answer", "ans_refused", "unans_answered",
        "unans_may-not-answer", "unans_refused", "label_strong_precision", "label_good_precision")


def summary(modes: dict) -> dict:
    """{mode: {split: {key: value}}} of the figures README shows, from `results["modes"]`."""
    return {m: {s: {k: modes[m][s][k] for k in KEYS if k in modes[m].get(s, {})} for s in SPLITS if s in modes[m]}
            for m in MODES if m in modes}


def write_figures(path: Path, modes: dict) -> None:
    path.write_text(json.dumps(summary(modes), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _f(figs: dict, key: str) -> str:
    return f"{figs[key]:.3f}" if key in figs else "–"


def retrieval_table(fig: dict) -> str:
    lines = ["| split, mode | Recall@1 | Recall@5 | MRR@10 | answerable refused | unanswerable refused |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for split in SPLITS[:3]:
        for mode in MODES:
            f = fig.get(mode, {}).get(split)
            if not f:
                continue
            name = f"{split}, {mode}"
            cells = [_f(f, k) for k in ("Recall@1", "Recall@5", "mrr@10")]
            if mode == "hybrid":
                name, cells = f"**{name}**", [f"**{c}**" for c in cells]
            lines.append(f"| {name} | {' | '.join(cells)} | {_f(f, 'wrongly_abstained')} | "
                         f"{_f(f, 'abstain_recall')} |")
    return "\n".join(lines)


def outcome_table(fig: dict) -> str:
    lines = ["| split (hybrid) | answerable: answered | right first card, answered | may not answer | refused | "
             "unanswerable: answered | may not answer | refused |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for split in SPLITS:
        f = fig.get("hybrid", {}).get(split)
        if f:
            lines.append(f"| {split} ({f['answerable']} + {f['off_topic']}) | " + " | ".join(
                _f(f, k) for k in ("ans_answered", "ans_right_answered", "ans_may-not-answer", "ans_refused",
                                   "unans_answered", "unans_may-not-answer", "unans_refused")) + " |")
    return "\n".join(lines)


BLOCKS = {"retrieval": retrieval_table, "outcomes": outcome_table}


def render(text: str, fig: dict) -> str:
    """`text` (README.md) with each `<!-- figures:NAME -->` ... `<!-- /figures:NAME -->` block rewritten."""
    for name, make in BLOCKS.items():
        start, end = f"<!-- figures:{name} -->", f"<!-- /figures:{name} -->"
        i, j = text.find(start), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"README has no {start} ... {end} block")
        text = text[:i + len(start)] + "\n" + make(fig) + "\n" + text[j:]
    return text
