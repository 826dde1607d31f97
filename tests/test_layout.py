"""The package's shape: stages import only the stages before them (docs/design.md, "Package map"), no module
imports itself back through others, and no module outgrows one reading (~300 lines)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qa"

# What each part of qa may import, besides itself and the shared leaves (errors, settings, paths, records).
# The same map, with what flows in and out, is in docs/design.md.
SHARED = {"errors", "settings", "paths", "records"}
ALLOWED = {
    "ingest": set(),
    "index": {"ingest"},
    "retrieve": {"ingest", "index"},
    "judge": {"ingest", "index", "retrieve"},
    "present": {"ingest", "index", "retrieve", "judge"},
    "search": {"ingest", "index", "retrieve", "judge", "present"},
    "serve": {"ingest", "index", "retrieve", "judge", "present", "search"},
    "evaluate": {"ingest", "index", "retrieve", "judge", "present", "search", "serve"},
    "cli": {"ingest", "index", "retrieve", "judge", "present", "search", "serve", "evaluate"},
    "__main__": {"cli"},
}
MAX_LINES = 300


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def qa_imports(path: Path) -> set[str]:
    """Every qa module `path` imports, at the top or inside a function (both can close a cycle at run time),
    relative imports resolved."""
    out = set()
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(x for x in (base, node.module or "") if x)
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n == "qa" or n.startswith("qa.")}
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for target in qa_imports(path):
            # `from qa.x import y` names either module qa.x.y or an attribute of qa.x: keep what exists.
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != name and target in modules and target != "qa":
                edges[name].add(target)
    return {name: edges.get(name, set()) for name in modules}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "qa"


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_qa_has_no_import_cycle():
    edges = graph()
    assert len(edges) > 40  # the walk found the package
    assert cycles(edges) == []


def test_each_stage_imports_only_the_stages_before_it():
    wrong = []
    for module, targets in graph().items():
        src = part(module)
        if src in SHARED or src == "qa":
            continue
        assert src in ALLOWED, f"{module}: part {src!r} is not in the package map (docs/design.md)"
        wrong += [f"{module} -> {t}" for t in sorted(targets)
                  if part(t) != src and part(t) not in SHARED and part(t) not in ALLOWED[src]]
    assert wrong == []


def test_no_module_outgrows_one_reading():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    sizes["app"] = len((ROOT / "app.py").read_text(encoding="utf-8").splitlines())
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_imports_inside_functions_say_why_they_are_deferred():
    """Imports belong at the top of a module; one inside a function defers a heavy or optional library on
    purpose, and its line (or the line above) says so in a comment."""
    silent = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                silent += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(fn)
                           if isinstance(node, (ast.Import, ast.ImportFrom))
                           and "#" not in lines[node.lineno - 1] and not lines[node.lineno - 2].strip().startswith("#")]
    assert silent == []


# Text that names files of the package (docs, comments, docstrings, configuration).
TEXT_SUFFIXES = {".py", ".md", ".toml", ".conf", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".js", ".css", ".txt"}
TEXT_NAMES = {"Dockerfile", "run"}
NOT_OURS = {".git", ".venv", "node_modules", "__pycache__", "index", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
QA_PATH_RE = re.compile(r"\bqa/[\w/.-]+?\.(?:py|json|js|css)\b")
# Named in files that are being changed elsewhere at the same time (qa/judge); remove an entry once fixed
# (test_known_stale_names_are_still_stale says when).
def _named_qa_paths() -> set[tuple[str, str]]:
    named = set()
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (not path.is_file() or NOT_OURS & set(rel.parts) or path == Path(__file__).resolve()
                or (path.suffix not in TEXT_SUFFIXES and path.name not in TEXT_NAMES)):
            continue
        for match in QA_PATH_RE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            named.add((rel.as_posix(), match.group(0)))
    return named


def test_every_qa_path_named_in_the_repository_exists():
    """Comments and docs named modules that had moved (qa/bodylimit.py, qa/routes.py, qa/index.py...): a
    reader following them found nothing."""
    named = _named_qa_paths()
    assert len(named) > 30  # the walk found the docs
    missing = sorted((where, name) for where, name in named if not (ROOT / name).exists())
    assert missing == []
