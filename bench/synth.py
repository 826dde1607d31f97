"""A synthetic corpus for the scale benchmark, made from the real sources' own sentences and headings.

Each synthetic sentence joins the first part of one real sentence to the last part of another (cut at
word boundaries near the middle), so the text reads like the sources, uses their vocabulary, and every
sentence is distinct: a build really embeds every passage and every sentence (no free cache hits from
repeated text). Files are plain .txt with a title line, headings taken from the real sections (numbered
so they differ), and paragraphs of 1-4 sentences; a `sources.toml` lists them.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

from .common import ROOT

_PUNCT_END = re.compile(r"[.!?]$")


_SENT_SPLIT = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")


def real_material(corpus_dir: Path = ROOT / "corpus") -> tuple[list[str], list[str]]:
    """(sentences, headings) of the real sources. Split here with a plain rule rather than by qa.ingest.passages,
    so that the synthetic text (and the cached vectors of it) does not change when the segmenter does."""
    from qa.ingest.corpus import load_corpus

    sentences, headings = [], set()
    for src in load_corpus(corpus_dir):
        for line in src.text.splitlines():
            line = " ".join(line.split())
            if not line:
                continue
            if len(line) <= 60 and not line.endswith((".", ":", "!", ",", ";")) and len(line.split()) <= 8:
                headings.add(line)
                continue
            for s in _SENT_SPLIT.split(line):
                # Prose sentences only: bullets, links and colon lead-ins do not recombine into prose.
                if len(s.split()) >= 6 and s[0].isalnum() and not s.startswith("http") and s.endswith((".", "!", "?")):
                    sentences.append(s)
    chrome = ("log in", "sign up", "sign in", "continue with", "member", "author", "about ", "resources",
              "powered by", "privacy", "share", "subscribe", "connect with", "by |", "updated")
    heads = sorted(h for h in headings if len(h) >= 3 and h[0].isalpha() and "http" not in h
                   and not any(c in h.lower() for c in chrome))
    return sorted(set(sentences)), heads


class SentenceMaker:
    def __init__(self, sentences: list[str], rng: random.Random):
        self.words = [s.split() for s in sentences]
        self.rng = rng
        self.seen: set[str] = set()

    def __call__(self) -> str:
        for _ in range(50):
            a, b = self.rng.sample(self.words, 2)
            ca = self.rng.randint(max(2, len(a) // 3), max(2, 2 * len(a) // 3))
            cb = self.rng.randint(max(1, len(b) // 3), max(1, 2 * len(b) // 3))
            words = a[:ca] + b[cb:]
            s = " ".join(words)
            s = s[0].upper() + s[1:]
            if not _PUNCT_END.search(s):
                s = s.rstrip(",;:") + "."
            if s not in self.seen:
                self.seen.add(s)
                return s
        raise RuntimeError("ran out of distinct sentence combinations")


def _document(title: str, n_paragraphs: int, make: SentenceMaker, headings: list[str], rng: random.Random,
              doc_no: int) -> str:
    lines = [title, ""]
    part = 0
    left_in_section = 0
    for _ in range(n_paragraphs):
        if left_in_section == 0:
            part += 1
            lines += [f"{rng.choice(headings)}, part {doc_no}.{part}", ""]
            left_in_section = rng.randint(3, 8)
        lines += [" ".join(make() for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))), ""]
        left_in_section -= 1
    return "\n".join(lines)


def _count_passages(text: str, title: str, path: Path) -> int:
    from qa.ingest.corpus import Source
    from qa.ingest.passages import segment

    return len(segment(Source(id="x", title=title, path=path, text=text,
                              sha256=hashlib.sha256(text.encode()).hexdigest())))


# Paragraphs per passage that the project's segmenter made of this text when this was written (1.1): a
# constant, so that the text depends only on this file, the real sources and the seed. The passages are
# counted with the current segmenter and reported; the count moves a little if the segmenter changes.
PARAGRAPHS_PER_PASSAGE = 1.1


def make_corpus(dest: Path, n_passages: int, seed: int = 0, per_file: int = 500) -> dict:
    """Write about `n_passages` passages' worth of synthetic sources (+ sources.toml) into `dest`.
    Returns {"files": n, "passages": counted with the real segmenter, "sentences_pool": n, "bytes": n}."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sentences, headings = real_material()
    make = SentenceMaker(sentences, rng)
    n_files = max(1, round(n_passages / per_file))
    entries, total, size = [], 0, 0
    for i in range(n_files):
        want = round(n_passages * (i + 1) / n_files) - round(n_passages * i / n_files)
        title = f"Synthetic notes on Interpersonal Psychotherapy, volume {i + 1}"
        path = dest / f"synth-{i:03d}.txt"
        text = _document(title, max(1, round(want * PARAGRAPHS_PER_PASSAGE)), make, headings, rng, i + 1)
        path.write_text(text, encoding="utf-8")
        total += _count_passages(text, title, path)
        size += len(text.encode("utf-8"))
        entries.append(f'[[source]]\nid = "synth-{i:03d}"\ntitle = "{title}"\nfile = "{path.name}"\nurl = ""\n'
                       f'links = []\nprovenance = "generated by bench/synth.py from the real sources\' sentences"\n')
    (dest / "sources.toml").write_text("\n".join(entries), encoding="utf-8")
    return {"files": n_files, "passages": total, "sentences_pool": len(sentences), "bytes": size}
