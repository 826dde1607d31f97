"""What a learner meets, per group of questions: the three outcomes (qa/judge/outcome.py) for answerable and
for unanswerable questions, read off the records themselves (refused when abstained; answered when the first
card is labelled strong or good; may-not-answer otherwise), so a saved or external run is scored the same way.
"""

from __future__ import annotations

from qa.evaluate.gold import GoldQuestion, is_relevant

OUTCOMES = ("answered", "may-not-answer", "refused")


def outcome_of(abstained: bool, hits) -> str:
    if abstained or not hits:
        return "refused"
    return "answered" if getattr(hits[0], "label", "") in ("strong", "good") else "may-not-answer"


def outcome_figures(qs: list[GoldQuestion], per_q: dict, spans: dict) -> dict[str, float]:
    """Shares of each outcome among the answerable (`ans_*`) and the unanswerable (`unans_*`) questions of
    `qs`, and `ans_right_answered`: answerable, answered, and the first card is an acceptable answer."""
    out: dict[str, float] = {}
    for prefix, group in (("ans", [q for q in qs if q.answerable]), ("unans", [q for q in qs if not q.answerable])):
        if not group:
            continue
        seen = [outcome_of(per_q[q.id]["abstained"], per_q[q.id]["hits"]) for q in group]
        for o in OUTCOMES:
            out[f"{prefix}_{o}"] = round(seen.count(o) / len(group), 4)
        if prefix == "ans":
            right = [o == "answered" and is_relevant(per_q[q.id]["hits"][0].source_id, per_q[q.id]["hits"][0].start,
                                                     per_q[q.id]["hits"][0].end, spans.get(q.id, []))
                     for q, o in zip(group, seen, strict=True)]
            out["ans_right_answered"] = round(sum(right) / len(group), 4)
    return out


def outcome_table(results: dict, mode: str, groups: list[str]) -> str:
    """Markdown: one row per group, the outcome shares of its answerable and unanswerable questions."""
    lines = ["| group | answerable | answered | right & answered | may not answer | refused | unanswerable | "
             "answered | may not answer | refused |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for g in groups:
        f = results["modes"][mode].get(g)
        if not f:
            continue

        def cell(key: str, figs: dict = f) -> str:
            return f"{figs[key]:.3f}" if key in figs else "–"

        lines.append(f"| {g} | {f['answerable']} | {cell('ans_answered')} | {cell('ans_right_answered')} | "
                     f"{cell('ans_may-not-answer')} | {cell('ans_refused')} | {f['off_topic']} | "
                     f"{cell('unans_answered')} | {cell('unans_may-not-answer')} | {cell('unans_refused')} |")
    return "\n".join(lines)
