"""Public modules say what they export: ``__all__`` lists exactly their public defs."""

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import meterops

ROOT = Path(meterops.__file__).parent


def _declares_all(name: str) -> bool:
    relative = name.removeprefix("meterops.").replace(".", "/")
    path = ROOT / f"{relative}.py"
    if not path.exists():
        path = ROOT / relative / "__init__.py"
    return "__all__" in path.read_text(encoding="utf-8")


def _modules() -> list[str]:
    """Public modules that declare ``__all__`` (adapters such as routers may not)."""
    return sorted(
        info.name
        for info in pkgutil.walk_packages([str(ROOT)], prefix="meterops.")
        if ".migrations" not in info.name
        and not info.name.rsplit(".", 1)[-1].startswith("_")
        and _declares_all(info.name)
    )


def _public_defs(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
    }


@pytest.mark.parametrize("name", _modules())
def test_all_lists_exactly_the_public_functions_and_classes(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names things that do not exist: {missing}"
    assert module.__file__ is not None
    undeclared = _public_defs(Path(module.__file__)) - set(exported)
    assert undeclared == set(), f"{name} defines public {sorted(undeclared)} not in __all__"
