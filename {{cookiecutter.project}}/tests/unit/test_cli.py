"""The CLI: every verb is listed, and a failure prints one readable reason and exits 1."""

import pytest

from {{ cookiecutter.package }}.cli import VERBS, main


def test_help_lists_every_verb(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(verb in out for verb in VERBS)


def test_unknown_verb_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-verb"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_failure_exits_1_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    assert main(["validate-data"]) == 1
    assert "params.yaml is missing" in capsys.readouterr().err
