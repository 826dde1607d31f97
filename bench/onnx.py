"""8. The served embedder (ONNX Runtime, qa/index/onnx_embed.py) against today's torch path (sentence-transformers,
qa/index/embed.py's MiniLMEmbedder) in the same process: one question, 32 questions, and 64 passages (a build's
batch), interleaved per item; and how far apart their vectors are."""

from __future__ import annotations

import numpy as np

from .common import Figure, Report, gold_questions, interleaved, ratios

SECTION = "8"


def run(report: Report, searcher=None, rounds: int = 2) -> dict:
    from qa.index.embed import MiniLMEmbedder
    from qa.index.onnx_embed import OnnxEmbedder

    onnx, torch = OnnxEmbedder(), MiniLMEmbedder()
    qs = gold_questions()
    for q in qs[:20]:  # warm-up: first calls of both runtimes
        onnx.encode([q])
        torch.encode([q])

    one, base = [], []
    for r in range(rounds):
        order = qs if r % 2 == 0 else qs[::-1]
        a, b = interleaved([lambda q: onnx.encode([q]), lambda q: torch.encode([q])], order)
        one += a
        base += b
    report.add(Figure(SECTION, "encode one question, ONNX Runtime", "ms", one, "torch (sentence-transformers)",
                      base, max_ratio=0.5, paired_ratios=ratios(one, base),
                      note=f"{len(qs)} gold questions x {rounds} rounds, interleaved"))

    batches = [qs[i:i + 32] for i in range(0, len(qs) - 31, 32)]
    a, b = interleaved([onnx.encode, torch.encode], batches)
    report.add(Figure(SECTION, "encode 32 questions, ONNX Runtime", "ms", a, "torch", b,
                      paired_ratios=ratios(a, b)))

    contexts = [p.context for p in searcher.index.passages] if searcher is not None else []
    chunks = [contexts[i:i + 64] for i in range(0, max(len(contexts) - 63, 0), 16)] or [contexts] if contexts else []
    if chunks:
        a, b = interleaved([onnx.encode, torch.encode], chunks * 3)
        report.add(Figure(SECTION, "encode 64 passages (a build's batch), ONNX Runtime", "ms", a, "torch", b,
                          paired_ratios=ratios(a, b)))

    cos = np.sum(onnx.encode(qs) * torch.encode(qs), axis=1)
    report.note(SECTION, f"cosine ONNX vs torch over {len(qs)} gold questions: min {cos.min():.7f}, "
                         f"mean {cos.mean():.7f}")
    return {"cosine_min": float(cos.min())}
