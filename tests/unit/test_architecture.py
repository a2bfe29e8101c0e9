"""The package's shape: no import cycle, the trainer loads no method, and method names live only in
the methods' own files, the reproduce plan and the book's constants."""
import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

from kdsrc.distillers import METHODS

PACKAGE = Path(__file__).resolve().parents[2] / "kdsrc"
# Where a method's name may be written: its own file, the registry, the reproduce plan, the book's
# constants and the book's studies (the experiments its chapters run, method by method).
MAY_NAME_METHODS = {"distillers", "reproduce.py", "book.py", "studies.py"}
# A string that happens to equal a method's name but names something else.
NOT_A_METHOD = {("results/cited.py", "kd"): "the cited-data file reference/kd.csv"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The kdsrc modules ``path`` imports, at any depth of its code (function-level imports too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(filter(None, [base, node.module or ""])) if node.level else node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists() else target)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name == "kdsrc" or name.startswith("kdsrc.")}


def _parents(name: str) -> list[str]:
    """The packages whose __init__ runs when ``name`` is imported (the top package aside)."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(2, len(parts))]


def _graph() -> dict[str, set[str]]:
    """Who imports whom. Importing ``pkg.mod`` from outside ``pkg`` also runs ``pkg/__init__``;
    from inside, that __init__ is already running (the usual package pattern, no cycle)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for target in _imports(path) & set(modules):
            targets |= {target} | {p for p in _parents(target) if not name.startswith(p + ".")}
        graph[name] = targets - {name, "kdsrc"}
    return graph


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycle_in_kdsrc():
    assert not _cycles(_graph())


def test_the_cycle_check_sees_the_imports_and_finds_a_cycle():
    """The check above is not vacuous: the graph has the edges it should, and a cycle is found."""
    graph = _graph()
    assert {"kdsrc.store", "kdsrc.teachers", "kdsrc.engine"} <= graph["kdsrc.experiment"]
    assert {"kdsrc.engine.fit", "kdsrc.engine"} <= graph["kdsrc.config"]
    assert "kdsrc.store" in graph["kdsrc.results"] and "kdsrc.results.tables" in graph["kdsrc.results"]
    assert _cycles({**graph, "kdsrc.store": graph["kdsrc.store"] | {"kdsrc.experiment"}})


def test_importing_the_trainer_loads_no_method():
    code = "import sys, kdsrc.engine; print(sorted(m for m in sys.modules if m.startswith('kdsrc.distillers')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _string_literals(path: Path) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [ast.literal_eval(t.string) for t in tokens if t.type == tokenize.STRING and not t.string.startswith(
        ('f"', "f'", '"""', "'''", 'r"', "b'", 'b"', 'rb', 'br'))]


def test_method_names_appear_only_in_method_files_the_plans_and_the_books_constants():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in MAY_NAME_METHODS:
            continue
        found += [(relative, text) for text in _string_literals(path)
                  if text in METHODS and (relative, text) not in NOT_A_METHOD]
    assert not found, found


def test_the_method_name_check_sees_string_literals():
    assert "kd" in _string_literals(PACKAGE / "reproduce.py")
    assert ("results/cited.py", "kd") in NOT_A_METHOD and "kd" in _string_literals(PACKAGE / "results" / "cited.py")
