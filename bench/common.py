"""Shared pieces of the benchmarks: percentiles, figures with their baselines, the machine, memory, ports."""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100): a value that was actually observed, no interpolation."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def gold_questions() -> list[str]:
    """The questions of eval/gold.jsonl, in file order (154 of them when this was written)."""
    with open(GOLD, encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def interleaved(fns: list, items: list, before=None) -> list[list[float]]:
    """Times (ms) of each fn(x) for every item, the fns called in rotating order per item (so that a change of
    the machine's load hits all of them alike); `before(x)`, untimed, ahead of each item. One list per fn."""
    out: list[list[float]] = [[] for _ in fns]
    for i, x in enumerate(items):
        if before is not None:
            before(x)
        for j in [*range(i % len(fns), len(fns)), *range(i % len(fns))]:
            t, _ = timed(fns[j], x)
            out[j].append(t * 1e3)
    return out


def ratios(values: list[float], baseline: list[float]) -> list[float]:
    """Per-pair ratios of two series timed back to back."""
    return [a / b for a, b in zip(values, baseline, strict=True)]


def uncached_searcher(searcher):
    """A Searcher on the same index and embedder that never answers from its question cache.

    `cache_size=0` empties the cache at the end of every `encode` (checked here)."""
    from qa.search import Searcher

    s0 = Searcher(searcher.index, searcher.embedder, searcher.settings, cache_size=0)
    s0.ask("Who created IPT?")
    if len(s0.query.cache):
        raise RuntimeError("Searcher(cache_size=0) kept a question in its cache")
    return s0


@dataclass
class Figure:
    """One measured quantity next to its baseline from the same run.

    `values` and `baseline` are the repeated observations (in `unit`); the ratio is of the medians (and of
    the p95s). `target` is a bound on the median ratio: `max_ratio` (lower is better, e.g. latency) or
    `min_ratio` (higher is better, e.g. throughput)."""

    section: str
    name: str
    unit: str
    values: list[float]
    baseline_name: str
    baseline: list[float]
    max_ratio: float | None = None
    min_ratio: float | None = None
    note: str = ""
    paired_ratios: list[float] = field(default_factory=list)  # per-pair ratios when measured interleaved

    @property
    def med(self) -> float:
        return median(self.values)

    @property
    def p95(self) -> float:
        return percentile(self.values, 95)

    @property
    def base_med(self) -> float:
        return median(self.baseline)

    @property
    def base_p95(self) -> float:
        return percentile(self.baseline, 95)

    @property
    def ratio(self) -> float:
        return self.med / self.base_med if self.base_med else float("nan")

    @property
    def ratio_p95(self) -> float:
        return self.p95 / self.base_p95 if self.base_p95 else float("nan")

    @property
    def target(self) -> str:
        if self.max_ratio is not None:
            return f"<= {self.max_ratio:g}x"
        if self.min_ratio is not None:
            return f">= {self.min_ratio:g}x"
        return ""

    @property
    def met(self) -> bool | None:
        if self.max_ratio is not None:
            return self.ratio <= self.max_ratio
        if self.min_ratio is not None:
            return self.ratio >= self.min_ratio
        return None

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(median=self.med, p95=self.p95, baseline_median=self.base_med, baseline_p95=self.base_p95,
                 ratio=self.ratio, ratio_p95=self.ratio_p95, target=self.target, met=self.met,
                 paired_ratio_median=median(self.paired_ratios) if self.paired_ratios else None)
        return d


def fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


class Report:
    """Collects figures and notes; prints each figure as it comes and the whole table at the end."""

    HEADER = ("| # | figure | median | p95 | n | baseline | median | p95 | ratio (med) | ratio (p95) | "
              "paired ratio (med) | target | met |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def __init__(self):
        self.figures: list[Figure] = []
        self.notes: list[tuple[str, str]] = []
        self.started = time.time()

    def add(self, fig: Figure) -> Figure:
        self.figures.append(fig)
        print(self.row(fig), flush=True)
        return fig

    def note(self, section: str, text: str) -> None:
        self.notes.append((section, text))
        print(f"  [{section}] {text}", flush=True)

    @staticmethod
    def row(f: Figure) -> str:
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        paired = fmt(median(f.paired_ratios)) + "x" if f.paired_ratios else ""
        return (f"| {f.section} | {f.name} | {fmt(f.med)} {f.unit} | {fmt(f.p95)} {f.unit} | {len(f.values)} | "
                f"{f.baseline_name} | {fmt(f.base_med)} {f.unit} | {fmt(f.base_p95)} {f.unit} | "
                f"{fmt(f.ratio)}x | {fmt(f.ratio_p95)}x | {paired} | {f.target} | {met} |")

    def table(self) -> str:
        return "\n".join([self.HEADER, *(self.row(f) for f in self.figures)])

    def dump(self, path: Path, extra: dict) -> None:
        data = {"machine": machine_info(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                                      time.localtime(self.started)),
                "seconds": time.time() - self.started, **extra,
                "figures": [f.as_dict() for f in self.figures], "notes": self.notes}
        path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# the machine


def machine_info() -> dict:
    cpu = ""
    for line in _lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in _lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except Exception:  # noqa: BLE001 - informative only
        torch_threads = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 2**20, 1),
            "python": sys.version.split()[0], "platform": platform.platform(), "torch_threads": torch_threads,
            "loadavg_at_start": loadavg()}


def _lines(path: str) -> list[str]:
    """The lines of a /proc file, or none where there is no /proc."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readlines()
    except OSError:
        return []


def loadavg() -> str:
    lines = _lines("/proc/loadavg")
    return " ".join(lines[0].split()[:3]) if lines else "?"


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), RssAnon, RssFile of a process, in KiB, from /proc/PID/status."""
    out = {}
    for line in _lines(f"/proc/{pid}/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
            out[key] = int(rest.split()[0])
    return out


def mib(kib: int) -> float:
    return kib / 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_size(path: Path) -> int:
    """Bytes of the regular files under `path` (symlinks not followed)."""
    total = 0
    for p in Path(path).rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def quiet_env() -> dict[str, str]:
    """Environment for child processes: offline, no analytics, no progress bars."""
    env = dict(os.environ)
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", DISABLE_TQDM="1", PYTHONUNBUFFERED="1")
    return env
