"""Imports point one way (DESIGN.md §2; issue 15).

Every module under ``src/lmlab`` is read with ``ast`` (nothing is imported) and its lmlab
imports are collected: ``import lmlab.x``, ``from lmlab.x import y`` (``y`` counted as the
module ``lmlab.x.y`` when that module exists, else as ``lmlab.x``), ``from lmlab import
registry`` and relative imports, at the top of a module or inside a function alike. Three
rules:

1. Layers. A module may import a module of its own layer or of a lower one, never a higher
   one. Low to high (the layer of ``lmlab.<name>...`` is the layer of ``<name>``):

   0. ``errors``, ``atomic``, ``manifest``, ``presets``, ``outputs``
   1. ``layers``, ``data``, ``tasks``
   2. ``embeddings``, ``encoders``, ``decoders``, ``heads``
   3. ``composition``
   4. ``objectives``
   5. ``config``, ``registry``, ``interop``
   6. ``evaluation`` (below ``training``, whose loop measures held-out perplexity)
   7. ``training``, ``compression``
   8. ``finetune``
   9. ``report``, ``convert``, ``serve``
   10. ``recipes``
   11. ``cli``, ``__main__``, ``__init__`` (the package's own ``__init__``)

   Corners beside the tower: ``ngram`` and ``wordvec`` may import layers 0-1 and themselves;
   only ``recipes`` and ``cli`` (layer 10 and up) import them.

2. No cycle between modules, counting imports inside functions. (The parent packages that
   Python imports implicitly are not counted; an explicit ``from lmlab.data import X`` is
   an edge to ``lmlab/data/__init__.py``.)

3. No import inside a function or method, except of a heavy or optional third-party module
   named in ``INNER_ALLOWED`` (or a submodule of one), which stays inside the function that
   needs it so that importing lmlab stays cheap (DESIGN §2). An lmlab module is never
   imported inside a function; standard-library modules and ``torch`` itself belong at the
   top. Imports under ``if TYPE_CHECKING:`` at module level are top-level imports.

Each failure names the importing file, its line and the rule broken. The checker is tested
on a tiny fake package below, so it is known to be able to fail.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "lmlab"
SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "atomic", "manifest", "presets", "outputs"),
    # crosslingual: parallel pairs, mixing (issue 24); knowledge: WordNet, TransE, K-BERT
    # sentence trees (issue 21)
    ("layers", "data", "tasks", "crosslingual", "knowledge"),
    ("embeddings", "encoders", "decoders", "heads"),
    ("composition",),
    ("objectives",),
    ("config", "registry", "interop"),
    ("training", "compression"),  # compression: transforms of a built model (issue 20)
    # The loop measures held-out text through the objectives' own ``evaluate``
    # (objectives/held_out.py), so nothing in training imports evaluation.
    ("evaluation", "generation"),
    ("finetune", "multimodal"),  # multimodal: data, parts, objectives and its job (issue 22)
    ("report", "convert", "serve"),
    ("recipes",),
    ("cli", "__main__", "__init__"),
)
CORNERS = ("ngram", "wordvec")
CORNER_MAY_IMPORT_UP_TO = 1   # corners import layers 0-1 (errors, atomic, presets, data, ...)
CORNER_IMPORTED_FROM = 10     # only recipes (10) and cli (11) import a corner

# Heavy or optional third-party modules that may be imported inside the function that
# needs them (a submodule of one counts as the module).
INNER_ALLOWED = (
    "transformers", "jieba", "matplotlib", "kenlm", "gensim", "tokenizers", "safetensors",
    "scipy", "sklearn", "numba", "tqdm", "onnxruntime", "accelerate", "nltk",
    "torch.utils.tensorboard", "torch.utils.flop_counter", "torch.distributed",
    "sentencepiece", "pandas", "datasets", "rouge_score", "sacrebleu",
    "fastapi", "uvicorn", "starlette", "httpx",  # lmlab serve (issue 23)
    "PIL", "emoji", "easy_vqa",  # multimodal images and their captions (issue 22)
)


@dataclass(frozen=True)
class Import:
    importer: str        # dotted module name of the importing file
    path: Path           # the importing file
    line: int
    target: str          # dotted name imported (for lmlab, the module it resolves to)
    in_function: bool


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def collect_imports(src: Path, package: str) -> tuple[set[str], list[Import]]:
    """Every module under ``src/package`` and every import in it (lmlab or not)."""
    files = sorted((src / package).rglob("*.py"))
    modules = {module_name(path, src) for path in files}
    imports: list[Import] = []
    for path in files:
        importer = module_name(path, src)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.Import):
                    for alias in child.names:
                        imports.append(Import(importer, path, child.lineno, alias.name,
                                              in_function))
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = importer.split(".")
                        if not is_package:
                            anchor = anchor[:-1]
                        anchor = anchor[:len(anchor) - (child.level - 1)]
                        base = ".".join(anchor + ([base] if base else []))
                    for alias in child.names:
                        candidate = f"{base}.{alias.name}"
                        target = candidate if candidate in modules else base
                        item = Import(importer, path, child.lineno, target, in_function)
                        if item not in imports[-len(child.names):]:  # one per module a line
                            imports.append(item)
                visit(child, inner)

        visit(tree, False)
    return modules, imports


def _area(module: str, package: str) -> str:
    """``lmlab.data.corpus`` -> ``data``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer_of(area: str) -> int | None:
    for index, names in enumerate(LAYERS):
        if area in names:
            return index
    return None


def _internal(imports: list[Import], package: str) -> list[Import]:
    return [i for i in imports if i.target == package or i.target.startswith(package + ".")]


def _where(item: Import, src: Path) -> str:
    return f"{item.path.relative_to(src.parent).as_posix()}:{item.line}"


def upward_imports(imports: list[Import], package: str, src: Path) -> list[str]:
    problems = []
    for item in _internal(imports, package):
        source, target = _area(item.importer, package), _area(item.target, package)
        if source == target:
            continue
        where = _where(item, src)
        if source in CORNERS or target in CORNERS:
            if target in CORNERS:
                layer = _layer_of(source)
                if layer is None or layer < CORNER_IMPORTED_FROM:
                    problems.append(f"{where}: {item.importer} imports {item.target}: the corner "
                                    f"'{target}' is imported only by recipes and cli")
            else:
                layer = _layer_of(target)
                if layer is None or layer > CORNER_MAY_IMPORT_UP_TO:
                    problems.append(f"{where}: {item.importer} imports {item.target}: the corner "
                                    f"'{source}' imports only layers 0-1 (errors, atomic, manifest, presets, outputs, "
                                    f"layers, data, tasks) and itself")
            continue
        low, high = _layer_of(source), _layer_of(target)
        if low is None or high is None:
            unknown = source if low is None else target
            problems.append(f"{where}: {item.importer} imports {item.target}: '{unknown}' has no "
                            f"layer; add it to LAYERS in tests/test_imports.py")
        elif high > low:
            problems.append(f"{where}: {item.importer} (layer {low}, {source}) imports "
                            f"{item.target} (layer {high}, {target}): upward import")
    return problems


def import_cycles(imports: list[Import], package: str, src: Path) -> list[str]:
    """One line per strongly connected component of the module graph, naming one cycle."""
    edges: dict[str, dict[str, Import]] = {}
    for item in _internal(imports, package):
        if item.target != item.importer:
            edges.setdefault(item.importer, {}).setdefault(item.target, item)
    # Tarjan's strongly connected components (iterative: no recursion limit).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    problems = []
    for component in components:
        members = set(component)
        start = component[0]
        # Shortest path start -> ... -> start inside the component (breadth first).
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            following = []
            for node in frontier:
                for child in sorted(edges.get(node, {})):
                    if child not in members:
                        continue
                    if child == start:
                        found = node
                        break
                    if child not in previous:
                        previous[child] = node
                        following.append(child)
                if found is not None:
                    break
            frontier = following
        path = [start]
        node = found
        while node != start:
            path.append(node)
            node = previous[node]
        path = [start] + path[:0:-1] + [start]
        steps = [f"{a} ({_where(edges[a][b], src)}) -> {b}" for a, b in zip(path, path[1:])]
        others = sorted(members - set(path))
        more = f" (and {', '.join(others)} in the same tangle)" if others else ""
        problems.append("import cycle: " + "; ".join(steps) + more)
    return problems


def inner_imports(imports: list[Import], package: str, src: Path) -> list[str]:
    problems = []
    for item in imports:
        if not item.in_function:
            continue
        if item.target == package or item.target.startswith(package + "."):
            problems.append(f"{_where(item, src)}: {item.importer} imports {item.target} inside a "
                            f"function: lmlab modules are imported at the top of the module")
        elif not any(item.target == name or item.target.startswith(name + ".")
                     for name in INNER_ALLOWED):
            problems.append(f"{_where(item, src)}: {item.importer} imports {item.target} inside a "
                            f"function: only heavy optional modules (INNER_ALLOWED) may be")
    return problems


def _report(problems: list[str], rule: str) -> str:
    return f"{len(problems)} import(s) break the rule '{rule}' (see tests/test_imports.py):\n" + \
        "\n".join(problems)


RULES = {
    "imports point one way, down the layers": upward_imports,
    "no import cycle": import_cycles,
    "no import inside a function": inner_imports,
}


@pytest.mark.parametrize("rule", list(RULES))
def test_the_package_keeps_the_import_rule(rule: str) -> None:
    _, imports = collect_imports(SRC, PACKAGE)
    problems = RULES[rule](imports, PACKAGE, SRC)
    assert not problems, _report(problems, rule)


def test_every_top_level_name_has_a_layer() -> None:
    modules, _ = collect_imports(SRC, PACKAGE)
    areas = {_area(module, PACKAGE) for module in modules}
    known = {name for names in LAYERS for name in names} | set(CORNERS)
    assert areas <= known, f"add {sorted(areas - known)} to LAYERS in tests/test_imports.py"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_checker_catches_upward_imports_cycles_and_inner_imports(tmp_path: Path) -> None:
    _write(tmp_path, {
        "lmlab/__init__.py": "",
        "lmlab/errors.py": "import os\n",
        "lmlab/data/__init__.py": "",
        # Upward: data (1) imports objectives (4), hidden in a function; and a cycle.
        "lmlab/data/lm_data.py": """
            from lmlab.errors import X

            def f():
                from lmlab.objectives import mlm
                import jieba
                import json
            """,
        "lmlab/objectives/__init__.py": "",
        "lmlab/objectives/mlm.py": "from lmlab.data.lm_data import f\n",
        "lmlab/objectives/clm.py": "from lmlab.objectives import sop\n",
        "lmlab/objectives/sop.py": "from . import clm\n",  # relative imports count too
        "lmlab/ngram/__init__.py": "",
        "lmlab/ngram/counting.py": "from lmlab import registry\n",
        "lmlab/registry.py": "from .ngram import counting\n",
        "lmlab/recipes/__init__.py": "",
        "lmlab/recipes/run.py": "from lmlab.ngram.counting import count\nfrom lmlab import cli\n",
        "lmlab/cli.py": "from lmlab.recipes import run\n",
    })
    modules, imports = collect_imports(tmp_path, PACKAGE)
    assert "lmlab.data.lm_data" in modules
    upward = "\n".join(upward_imports(imports, PACKAGE, tmp_path))
    assert "lmlab/data/lm_data.py:5: lmlab.data.lm_data (layer 1, data) imports " \
           "lmlab.objectives.mlm (layer 4, objectives): upward import" in upward
    assert "lmlab/ngram/counting.py:1: lmlab.ngram.counting imports lmlab.registry: the corner " \
           "'ngram' imports only layers 0-1" in upward
    assert "lmlab/registry.py:1: lmlab.registry imports lmlab.ngram.counting: the corner " \
           "'ngram' is imported only by recipes and cli" in upward
    assert "lmlab/recipes/run.py:2: lmlab.recipes.run (layer 10, recipes) imports lmlab.cli" in upward
    assert "recipes/run.py:1" not in upward      # recipes may import a corner
    assert "objectives/mlm.py:1" not in upward    # downward is fine
    cycles = import_cycles(imports, PACKAGE, tmp_path)
    assert len(cycles) == 4, cycles
    text = "\n".join(cycles)
    assert "import cycle: lmlab.data.lm_data (" in text
    assert ("lmlab/data/lm_data.py:5) -> lmlab.objectives.mlm; lmlab.objectives.mlm ("
            in text)
    assert "lmlab/objectives/mlm.py:1) -> lmlab.data.lm_data" in text
    assert "lmlab/objectives/sop.py:1) -> lmlab.objectives.clm" in text
    assert "lmlab/ngram/counting.py:1) -> lmlab.registry" in text
    assert "lmlab/cli.py:1) -> lmlab.recipes.run" in text
    inner = "\n".join(inner_imports(imports, PACKAGE, tmp_path))
    assert "lmlab/data/lm_data.py:5: lmlab.data.lm_data imports lmlab.objectives.mlm inside a " \
           "function" in inner
    assert "lmlab/data/lm_data.py:7: lmlab.data.lm_data imports json inside a function" in inner
    assert "jieba" not in inner                   # heavy optional module: allowed
    assert "errors.py" not in inner
