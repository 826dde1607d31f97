"""The corpus's subject: every question is read as a question about it.

A learner on a single-topic page leaves the topic unsaid ("how many sessions are there"). The search reads
such a question as if it named the topic, on both sides: the keyword side adds the topic's words, the
embedding side judges the question with its vector moved towards the topic's (qa/retrieve/query.py).
The subject is the corpus's, not this module's:
`[topic]` in `corpus/sources.toml` declares it (`name`, `aliases`), and without it the words that most
source titles share stand in (e.g. "interpersonal", "ipt" for this corpus).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from qa.ingest.text import analyze, words


@dataclass(frozen=True)
class Topic:
    name: str  # as shown and embedded, e.g. "Interpersonal Psychotherapy (IPT)"
    aliases: tuple[str, ...] = ()  # other ways a question names it ("IPT", "interpersonal therapy")

    @property
    def stems(self) -> frozenset[str]:
        """The content stems of the name and every alias: what the keyword side adds to an implicit question."""
        return frozenset(t for phrase in (self.name, *self.aliases) for t in analyze(phrase))

    @property
    def marks(self) -> frozenset[str]:
        """Stems whose presence alone says a question names the topic: the distinctive part of each phrase
        (an acronym, or the phrase's least common word such as "interpersonal"), not shared words like
        "therapy" that a question about another therapy also holds."""
        out = set()
        for phrase in (self.name, *self.aliases):
            stems = analyze(phrase)
            if not stems:
                continue
            acronyms = [analyze(w)[0] for w in re.findall(r"\b[A-Z]{2,}\b", phrase) if analyze(w)]
            out.update(acronyms or stems[:1])
        return frozenset(out)

    def named_in(self, question: str) -> bool:
        """Does the question name the topic itself ("how long does ipt last")?"""
        return bool(self.marks & set(analyze(question)))

    def to_dict(self) -> dict:
        return {"name": self.name, "aliases": list(self.aliases)}


def topic_from(declared: dict | None, titles: list[str]) -> Topic | None:
    """The declared topic (`[topic]` of sources.toml, as recorded in the index manifest), else one derived
    from the titles: the words that at least half of them share, in the order of the first title that has
    them all. None when the titles share nothing (then questions are searched as typed)."""
    if declared and str(declared.get("name", "")).strip():
        aliases = tuple(str(a) for a in declared.get("aliases", []) if str(a).strip())
        return Topic(str(declared["name"]).strip(), aliases)
    if not titles:
        return None
    counts = Counter(t for title in titles for t in set(analyze(title)))
    shared = {t for t, c in counts.items() if c >= max(2, (len(titles) + 1) // 2)}
    if not shared:
        return None
    # Surface words of the first title whose stem is shared, so the name reads like the titles.
    first = next((t for t in titles if shared & set(analyze(t))), titles[0])
    seen, name = set(), []
    for w in words(first):
        s = analyze(w)
        if s and s[0] in shared and s[0] not in seen:
            seen.add(s[0])
            name.append(w)
    # Each shared word alone names the topic, as an alias.
    return Topic(" ".join(name), tuple(name)) if name else None
