""""The sources also answer", the suggestions after a refusal and the page's "What can I ask?" list: questions
the sources answer, from the question bank of the build being served (corpus/questions.jsonl; a stale row is
never in a build), near the passages shown, or from the whole corpus after a refusal. A corpus without a bank
falls back on the sources' own question lines (question-form headings and FAQ lines).

Nothing here ranks or judges: the passages and the refusal come from the search as they are. Of a passage's
bank questions, those fit to show a learner are offered (a whole question of known words, as people write it
out: "How long does IPT last?" rather than "ipt lenght"). A question line that does not name the corpus's
topic ("What are the interpersonal skills?" in an article's off-topic tail) is left out when the corpus has a
topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.index.wordvec import english_words
from qa.records import Answer

NEXT_QUESTIONS = 3  # under an answer
REFUSAL_QUESTIONS = 5  # instead of the fixed examples, when nothing answers
NEAR = 2  # passages either side of a shown one, in the same source, whose questions count as near it
PER_PASSAGE = 3  # bank questions offered per passage
_OPENERS = ("what", "who", "how", "when", "where", "why", "which", "is", "are", "can", "does", "do", "should",
            "will", "would", "could")
_QUESTION_RE = re.compile(r"^[A-Z][^?]{8,150}\?$")
_CACHE: dict[object, Questions] = {}


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


@dataclass
class Questions:
    """The question lines of one index: per passage (by row), and where each shown passage is (source, start)."""

    per_passage: list[list[str]]
    row_of: dict[tuple[str, int], int]
    source_of: list[str]


def _question_lines(text: str, topic_words: list[str]) -> list[str]:
    out = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if not _QUESTION_RE.match(line) or len(line.split()) > 14:
            continue
        if topic_words and not any(re.search(rf"\b{re.escape(w)}\b", line, re.I) for w in topic_words):
            continue
        out.append(line)
    return out


def presentable(question: str, knows) -> bool:
    """A bank question fit to offer as a button: written out as a question (it opens with "how", "is", "what"
    ...), 4-14 words, every word known (no typo on the page)."""
    ws = re.findall(r"[A-Za-z']+", question)
    return (4 <= len(ws) <= 14 and question.strip()[:1].isalpha() and not re.search(r"[^\w\s'?,-]", question)
            and ws[0].lower() in _OPENERS and all(knows(w) for w in ws))


def shown(question: str, acronyms: frozenset[str] = frozenset({"ipt", "cbt", "ipt-a"})) -> str:
    """How a bank question reads on a button: people type "how long does ipt last"; the button says "How long
    does IPT last?" (capital, acronyms, question mark; the words are the row's)."""
    words = [w.upper() if w.lower() in acronyms or w == "i" else w for w in question.split()]
    text = " ".join(words)
    text = text[:1].upper() + text[1:]
    return text if text.endswith("?") else text + "?"


def bank_questions(index) -> list[list[str]] | None:
    """Per passage, its bank questions fit to show (None: the build has no question bank)."""
    bank = getattr(index, "bank", None)
    if bank is None or not len(bank):
        return None
    english = english_words()
    vocab = {w.lower() for w in getattr(index, "vocabulary", ())}

    def knows(word: str) -> bool:
        w = word.lower().strip("'")
        return not english or w in english or w in vocab or w.removesuffix("'s") in english

    out: list[list[str]] = [[] for _ in index.passages]
    for q, p in zip(bank.questions, bank.passage.tolist(), strict=True):
        if p >= 0 and len(out[p]) < PER_PASSAGE and presentable(q, knows):
            out[p].append(shown(q))
    return out


def questions_of(index) -> Questions:
    """The questions offered for each of `index`'s passages (from its bank, else its question lines), read once
    per build."""
    key = index.directory
    if key not in _CACHE:
        topic = index.manifest.get("topic") or {}
        words = [w for w in [*(topic.get("aliases") or [])] if w.strip()]
        per = bank_questions(index) or [_question_lines(p.text, words) for p in index.passages]
        _CACHE.clear()  # one build at a time is served; a new one replaces the old
        _CACHE[key] = Questions(per, {(p.source_id, p.start): i for i, p in enumerate(index.passages)},
                                [p.source_id for p in index.passages])
    return _CACHE[key]


def menu(index) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """The "What can I ask?" list: per source (its title), per section in reading order, its questions."""
    qs = questions_of(index)
    out: dict[str, dict[str, list[str]]] = {}
    seen: set[str] = set()
    for p, found in zip(index.passages, qs.per_passage, strict=True):
        title = index.sources[p.source_id].title if p.source_id in index.sources else p.source_id
        fresh = [q for q in found if _key(q) not in seen]
        seen.update(_key(q) for q in fresh)
        if fresh:
            out.setdefault(title, {}).setdefault(p.section or title, []).extend(fresh)
    return [(title, list(sections.items())) for title, sections in out.items()]


def _fresh(candidates, asked: set[str], limit: int) -> list[str]:
    out: list[str] = []
    for q in candidates:
        k = _key(q)
        if k and k not in asked:
            asked.add(k)
            out.append(q)
            if len(out) == limit:
                break
    return out


def next_questions(index, answer: Answer, limit: int = NEXT_QUESTIONS) -> list[str]:
    """Up to `limit` questions from the sources near the passages shown (none under a crisis notice)."""
    if answer.notice or answer.abstained or not answer.passages:
        return []
    qs = questions_of(index)
    asked = {_key(answer.question)}
    rows = [qs.row_of.get((h.source_id, h.start)) for h in answer.passages]
    shown = {r for r in rows if r is not None}
    for r in shown:  # the questions the shown passages already answer are not "next"
        asked.update(_key(q) for q in qs.per_passage[r])

    def near():
        for distance in range(1, NEAR + 1):
            for r in rows:
                if r is None:
                    continue
                for n in (r + distance, r - distance):
                    if 0 <= n < len(qs.per_passage) and n not in shown and qs.source_of[n] == qs.source_of[r]:
                        yield from qs.per_passage[n]

    return _fresh(near(), asked, limit)


def corpus_questions(index, answer: Answer, limit: int = REFUSAL_QUESTIONS) -> list[str]:
    """After a refusal: questions from across the whole corpus, one source at a time in turn (none under a crisis
    notice)."""
    if answer.notice:
        return []
    qs = questions_of(index)
    by_source: dict[str, list[str]] = {}
    for sid, found in zip(qs.source_of, qs.per_passage, strict=True):
        by_source.setdefault(sid, []).extend(found)
    lists = list(by_source.values())

    def in_turn():
        for i in range(max((len(x) for x in lists), default=0)):
            for x in lists:
                if i < len(x):
                    yield x[i]

    return _fresh(in_turn(), {_key(answer.question)}, limit)


def for_answer(index, answer: Answer) -> list[str]:
    """What the page offers with `answer`: questions near its passages, or from the whole corpus after a refusal."""
    if answer.abstained or not answer.passages:
        return corpus_questions(index, answer)
    return next_questions(index, answer)
