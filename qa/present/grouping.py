"""From candidates to the cards shown: each passage's best sentence (the highlight), and the same statement
made by another source grouped under the passage shown first ("also stated in")."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qa.index.load import LoadedIndex
from qa.present.citation import page_markers, pages_label, reference
from qa.records import AlsoIn, Hit
from qa.retrieve.answertype import states
from qa.retrieve.candidates import Candidate
from qa.retrieve.facts import IndexFacts
from qa.settings import Settings

# Added to the match of a sentence that states the kind of answer the question asks for ("how long": "12 to
# 16 weekly sessions"): MiniLM rates a sentence about the question's notion ("this duration arose as a
# compromise") above the one giving the value.
STATES_ANSWER_BONUS = 0.2


class Grouper:
    def __init__(self, index: LoadedIndex, settings: Settings, facts: IndexFacts):
        self.index = index
        self.settings = settings
        self.facts = facts
        # Where each page of a PDF source begins (its `## Page N` headings), for "p. 3" in citations.
        pdfs = {sid for sid, s in index.sources.items() if s.meta.get("extractor", "").startswith("pypdf")}
        self.pages = {sid: page_markers([(p.start, p.text) for p in index.passages if p.source_id == sid])
                      for sid in pdfs}
        self._states: dict[tuple[str, int], bool] = {}

    def states_answer(self, kind: str, row: int, i: int) -> bool:
        """Does sentence `row` (of passage i) state an answer of `kind`? Cached per (kind, row)."""
        key = (kind, row)
        if key not in self._states:
            p = self.index.passages[i]
            a, b = p.sentences[row - int(self.index.sentence_offsets[i])]
            self._states[key] = states(kind, p.text[a - p.start:b - p.start])
        return self._states[key]

    def best_sentence(self, i: int, qvec: np.ndarray, qstems: set[str], kind: str | None = None) -> tuple[int, float]:
        """Row (into sentence_vectors) of the sentence of passage i that best matches the question; `kind`:
        the kind of answer it asks for (qa/retrieve/answertype.py), None for none."""
        lo, hi = int(self.index.sentence_offsets[i]), int(self.index.sentence_offsets[i + 1])
        sims = self.index.sentence_vectors[lo:hi] @ qvec
        for j in range(hi - lo):
            if qstems:
                overlap = len(qstems & self.facts.sentence_stems(lo + j)) / len(qstems)
                sims[j] += 0.3 * overlap  # shared key words break near-ties between similar sentences
            if kind and self.states_answer(kind, lo + j, i):
                sims[j] += STATES_ANSWER_BONUS
        j = int(np.argmax(sims))
        return lo + j, float(sims[j])

    def same_statement(self, row_a: int, row_b: int) -> bool:
        """Do two sentences (rows of sentence_vectors) say the same thing? Both close in meaning and sharing
        distinctive words: MiniLM alone rates any two sentences about IPT as similar (0.85-0.9), so the
        cosine cut is paired with an IDF-weighted overlap of their words (values checked on real pairs:
        "12 to 16 weekly sessions" ~ "12-16 sessions" is a twin, "Klerman and Weissman created IPT" ~
        "IPT is one type of psychotherapy" is not)."""
        s = self.settings
        if float(self.index.sentence_vectors[row_a] @ self.index.sentence_vectors[row_b]) < s.group_threshold:
            return False
        a, b = self.facts.sentence_stems(row_a), self.facts.sentence_stems(row_b)
        idf = self.facts.idf
        union = sum(idf.get(t, 0.0) for t in a | b)
        shared = sum(idf.get(t, 0.0) for t in a & b)
        return union > 0 and shared / union >= s.group_min_overlap

    def hit_fields(self, i: int, row: int) -> dict:
        """The citation of passage i, with sentence `row` as its highlight."""
        p = self.index.passages[i]
        src = self.index.sources[p.source_id]
        lo = int(self.index.sentence_offsets[i])
        a, b = p.sentences[row - lo]
        return dict(source_id=p.source_id, title=src.title, path=src.path, section=p.section, start=p.start,
                    end=p.end, line_start=p.line_start, line_end=p.line_end, text=p.text,
                    highlight={"start": a, "end": b})

    def hits(self, cands: list[Candidate], qvec: np.ndarray, qstems: set[str], k: int,
             label: Callable[[float], str], kind: str | None = None) -> list[Hit]:
        """The first k cards of `cands`, each with its highlight (the sentence that best answers; `kind`: the
        kind of answer asked for), label (`label(fused score)`) and the twins found in other sources."""
        hits: list[Hit] = []
        kept_rows: list[int] = []
        # Twins of the shown passages rank close to them: looking a few ranks past k finds them. The one
        # shown is the higher ranked, i.e. the one that best answers (its rank counts the kind of answer
        # asked for, so "one-hour weekly sessions" is shown for "how long is each session").
        for c in cands[: 4 * k]:
            row, _ = self.best_sentence(c.index, qvec, qstems, kind)
            fields = self.hit_fields(c.index, row)
            # Same statement in another source already shown? Then list it under that passage instead.
            twin = next((h for h, r in zip(hits, kept_rows, strict=True)
                         if h.source_id != fields["source_id"] and self.same_statement(r, row)), None)
            if twin is not None:
                if all(a.source_id != fields["source_id"] for a in twin.also_in):
                    twin.also_in.append(AlsoIn(**fields))
                continue
            if len(hits) == k:
                continue  # keep scanning only to group twins of what is shown
            src = self.index.sources[fields["source_id"]]
            pages = pages_label(self.pages.get(src.id, []), fields["start"], fields["end"])
            cite = reference(src.title, src.url, src.meta, fields["text"], fields["line_start"], fields["line_end"],
                             pages)
            hits.append(Hit(rank=len(hits) + 1, score=round(c.score, 4), similarity=round(c.dense, 4),
                            label=label(c.fused), url=src.url, citation=cite, **fields))
            kept_rows.append(row)
        return hits
