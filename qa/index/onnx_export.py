"""Export the bundled all-MiniLM-L6-v2 to ONNX, from the bundled weights (never downloaded).

Run as `python -m qa.index.onnx_export OUT.onnx [--int8]` in a process of its own: it imports torch and
transformers, which a serving process never does (qa/index/onnx_embed.py starts it when the cache folder has
no good copy yet). The graph takes input_ids, attention_mask and token_type_ids (batch x tokens, int64) and
returns the token embeddings; pooling and normalisation happen in numpy, as sentence-transformers does them.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "token_embeddings"
OPSET = 17


def export(model_dir: Path, out: Path, int8: bool = False) -> None:
    """Write the ONNX graph of the model in `model_dir` to `out` (atomically); int8: dynamically quantized."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch  # deferred: this module runs in its own process, the only one that needs torch
    from transformers import AutoModel  # deferred with torch

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes do not apply to this graph
        torch.onnx.export(TokenEmbeddings(model), (ids, ids, torch.zeros_like(ids)), str(tmp),
                          input_names=list(INPUTS), output_names=[OUTPUT], opset_version=OPSET, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in (*INPUTS, OUTPUT)})
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic  # deferred: only for int8

        q = tmp.with_name(tmp.name + ".int8")
        quantize_dynamic(str(tmp), str(q), weight_type=QuantType.QInt8)
        os.replace(q, tmp)
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    from qa.index.embed import bundled_model_dir  # the weights' package, checked by the caller

    ap = argparse.ArgumentParser(prog="python -m qa.index.onnx_export")
    ap.add_argument("out", type=Path)
    ap.add_argument("--int8", action="store_true", help="dynamically quantize the weights to int8")
    ap.add_argument("--model-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export(args.model_dir or bundled_model_dir(), args.out, args.int8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
