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
    "live": {"ingest", "index", "retrieve", "judge", "present", "search"},
    "serve": {"ingest", "index", "retrieve", "judge", "present", "search", "live"},
    "evaluate": {"ingest", "index", "retrieve", "judge", "present", "search", "live"},
    "cli": {"ingest", "index", "retrieve", "judge", "present", "search", "live", "serve", "evaluate"},
    "__main__": {"cli"},
}
MAX_LINES = 300
DEPLOY = ROOT / "deploy"
# Modules over MAX_LINES that are being replaced elsewhere; remove an entry once it is gone (the test says when).
KNOWN_LONG = {
    "deploy.replicas": "the supervisord runner of issue 30 (config generators, readiness, rolling restart); to be "
                       "split into generators and runner",
}


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def qa_imports(path: Path) -> set[str]:
    """Every qa module `path` imports, at the top or inside a function (both can close a cycle at run time),
    relative imports resolved."""
    out = set()
    package = module_name(path).split(".") if path.is_relative_to(ROOT) else []
    if path.name != "__init__.py" and package:
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


def _sizes() -> dict[str, int]:
    paths = [*PACKAGE.rglob("*.py"), *DEPLOY.glob("*.py"), ROOT / "app.py"]
    return {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in paths}


def test_no_module_outgrows_one_reading():
    sizes = _sizes()
    assert "deploy.replicas" in sizes or "deploy.replicas" not in KNOWN_LONG  # the walk reached deploy/
    assert {m: n for m, n in sizes.items() if n > MAX_LINES and m not in KNOWN_LONG} == {}


def test_known_long_modules_are_still_long():
    """An exception outlives its reason unnoticed: once a listed module is short (or gone), drop its entry."""
    sizes = _sizes()
    assert {m for m in KNOWN_LONG if sizes.get(m, 0) <= MAX_LINES} == set()


def top_level_names(path: Path) -> set[str]:
    """What a module defines or imports at its top level."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            names |= {t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                      if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    if path.name == "__init__.py":
        names |= {p.stem for p in path.parent.glob("*.py")} | {d.name for d in path.parent.iterdir() if d.is_dir()}
        if "__getattr__" in names:  # names served lazily are those of __all__
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                    names |= set(ast.literal_eval(node.value))
    return names


def unresolved_imports(paths) -> set[str]:
    """Each `qa...` import of `paths` that names no module of qa, or a name its module does not define."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    wrong = set()
    for path in paths:
        for name in qa_imports(path):
            module, _, attr = name.rpartition(".") if name not in modules else (name, "", "")
            if name in modules or (module in modules and attr in top_level_names(modules[module])):
                continue
            wrong.add(f"{path.name}: {name}")
    return wrong


def test_deploy_scripts_import_what_qa_has_and_qa_never_imports_deploy(tmp_path):
    """deploy/ stands above the package, as the CLI does: it may use any stage, and a module moved inside qa
    must not break a deployment unseen (issue 28 found comments naming moved modules; an import is worse)."""
    assert [p.name for p in DEPLOY.glob("*.py")]  # the walk found deploy/
    assert unresolved_imports(DEPLOY.glob("*.py")) == set()
    assert {m for m, targets in graph().items() for t in targets if t.startswith("deploy")} == set()
    script = tmp_path / "moved.py"
    script.write_text("import qa.settings\nfrom qa.index.load import load_index\nfrom qa.index import nothing\n"
                      "from qa.routes import Routes\n", encoding="utf-8")
    assert unresolved_imports([script]) == {"moved.py: qa.index.nothing", "moved.py: qa.routes",
                                            "moved.py: qa.routes.Routes"}


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
# Named in files that are being changed elsewhere at the same time; remove an entry once fixed
# (test_known_stale_names_are_still_stale says when).
def _named_qa_paths() -> set[tuple[str, str]]:
    named = set()
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (not path.is_file() or NOT_OURS & set(rel.parts) or path == Path(__file__).resolve()
                or any(part.endswith(".egg-info") for part in rel.parts)  # pip's record of an earlier install
                or (path.suffix not in TEXT_SUFFIXES and path.name not in TEXT_NAMES)):
            continue
        for match in QA_PATH_RE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            named.add((rel.as_posix(), match.group(0)))
    return named


def test_every_qa_path_named_in_the_repository_exists():
    """Comments and docs named modules that had moved (bodylimit, routes and index under qa/ ...): a
    reader following them found nothing."""
    named = _named_qa_paths()
    assert len(named) > 30  # the walk found the docs
    missing = sorted((where, name) for where, name in named if not (ROOT / name).exists())
    assert missing == []


def test_importing_qa_loads_no_stage_until_a_public_name_is_used():
    """`from qa import open_searcher` is the entry point; `import qa.settings` alone stays light."""
    import subprocess
    import sys

    code = ("import sys, qa.settings; before = 'qa.search' in sys.modules; from qa import open_searcher, Answer; "
            "print(before, 'qa.search' in sys.modules, open_searcher.__module__, Answer.__module__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "qa.live", "qa.records"]
