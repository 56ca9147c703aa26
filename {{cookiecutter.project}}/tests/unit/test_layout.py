"""The package follows the loop: a stage imports only the shared top modules and earlier stages.

Kept as a test so that a new module that reaches forward (training importing serving, say) fails
here, before the folders stop telling the story.
"""

import ast
from pathlib import Path

import {{ cookiecutter.package }} as package

ROOT = Path(package.__file__).parent
STAGES = ("data", "training", "serving", "deploy", "monitoring")  # in the order of the loop
MAX_TOP_MODULES = 8


def imported_stages(source, here):
    """The stage folders that `source` imports; `here` is its folder, () at the top, ("data",)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - (node.level - 1)])
            target = base + (node.module.split(".") if node.module else [])
        elif isinstance(node, ast.ImportFrom) and node.module:
            target = node.module.split(".")
            target = target[1:] if target[0] == package.__name__ else []
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.update(parts[1:2] if parts[0] == package.__name__ else [])
            continue
        else:
            continue
        # `from .. import deploy` names the stage in its imported names, not in the module path.
        found.update(target[:1] if target else [alias.name for alias in node.names])
    return found & set(STAGES)


def test_top_holds_only_shared_modules():
    top = sorted(path.name for path in ROOT.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
    assert all((ROOT / stage / "__init__.py").exists() for stage in STAGES)


def test_each_stage_imports_only_earlier_stages():
    forward = []
    for stage_index, stage in enumerate(STAGES):
        allowed = set(STAGES[: stage_index + 1])
        for path in sorted((ROOT / stage).rglob("*.py")):
            here = path.relative_to(ROOT).parts[:-1]
            forward += [
                f"{path.relative_to(ROOT)} imports {other}"
                for other in sorted(imported_stages(path.read_text(), here) - allowed)
            ]
    assert not forward, "a stage imports a later one: " + "; ".join(forward)


def test_the_checker_sees_every_spelling_of_an_import():
    """The rule above is only as good as the import finder."""
    cases = {
        "from ..serving.scoring import Scorer": {"serving"},
        "from ..monitoring import drift": {"monitoring"},
        "from .. import deploy, config": {"deploy"},
        "from .loading import read_csv": {"data"},
        f"import {package.__name__}.training.train": {"training"},
        f"from {package.__name__}.deploy.smoke import call": {"deploy"},
        "from ..config import load_params": set(),
        "import json": set(),
    }
    for source, stages in cases.items():
        assert imported_stages(source, ("data",)) == stages, source
