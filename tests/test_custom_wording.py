"""A `custom` bake reads as the user's project: no churn wording, no example-data comments.

The example bake keeps them: they explain its data. Code that only runs for the example data
(pull-data's regeneration) and the tests' fixture names are not what a user reads as their
project's settings and docs, so the check covers every other file and the CLI's help.
"""

import re

from tests.conftest import bake, run_in

CHURN_WORDING = re.compile(r"churn|customer|example data|tenure|monthly_charges", re.IGNORECASE)


def user_facing_text(project):
    """Every file of the bake outside src/ and tests/ (and the bundled data), then CLI help."""
    texts = {}
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if not path.is_file() or relative.parts[0] in {".git", "src", "tests", "data"}:
            continue
        if relative.name == "requirements.lock":
            continue
        texts[str(relative)] = path.read_text(errors="replace")
    package = project.name.replace("-", "_")
    texts["--help"] = run_in(project, "python", "-m", package, "--help").stdout
    return texts


def churn_lines(texts):
    return [f"{name}: {line.strip()}" for name, text in texts.items()
            for line in text.splitlines() if CHURN_WORDING.search(line)]  # fmt: skip


def test_custom_bake_has_no_churn_wording(tmp_path):
    project = bake(tmp_path, project="loan-default", dataset="custom", target_column="defaulted",
                   positive_class="1", sensitive_features="region")  # fmt: skip
    assert churn_lines(user_facing_text(project)) == []
    readme = (project / "README.md").read_text().splitlines()
    assert readme[2] == "A model trained, gated, served and monitored the GitOps way"


def test_example_bake_keeps_its_example_comments(tmp_path):
    texts = user_facing_text(bake(tmp_path))
    assert "In the example data" in texts["params.yaml"]
    assert "monthly_charges: {method: psi" in texts["params.yaml"]
    assert "regenerates the example data" in texts["--help"]
