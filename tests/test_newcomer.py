"""What a newcomer trips over first, each fixed and held here (issue 19, item 21)."""

import re
import subprocess

from tests.conftest import ROOT, bake


def description_columns(help_text):
    """The column where each target's description starts in `make help`."""
    found = {}
    for line in help_text.splitlines():
        match = re.match(r"^  ([a-z-]+) +\S", line)
        assert match, f"not a help line: {line!r}"
        found[match[1]] = match.end() - 1
    return found


def test_make_help_columns_align(tmp_path):
    project = bake(tmp_path)
    for folder in (ROOT, project):
        done = subprocess.run(["make", "--no-print-directory", "help"], cwd=folder,
                              capture_output=True, text=True, check=True)  # fmt: skip
        columns = description_columns(done.stdout)
        assert len(columns) > 5 and len(set(columns.values())) == 1, (folder, columns)


def test_next_steps_cd_to_where_the_project_was_written(tmp_path, monkeypatch, capfd):
    shell = tmp_path / "shell"
    shell.mkdir()
    monkeypatch.setenv("PWD", str(shell))  # the folder cookiecutter was started in
    below = bake(shell / "projects")
    assert "\n  cd projects/churn-model\n" in capfd.readouterr().out
    elsewhere = bake(tmp_path / "elsewhere")
    assert f"\n  cd {elsewhere}\n" in capfd.readouterr().out
    assert below.parent == shell / "projects"
