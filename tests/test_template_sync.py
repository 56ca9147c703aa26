"""Template updates reach a generated repo as one pull request (actions/template-sync).

A git copy of this template is tagged v1.0.0 and baked; the baked repo is committed and
changed as a user would; the template moves on (v1.1.0, v1.2.0); the sync runs against a
bare `origin` and the local fake GitHub API, as the Action runs it on a runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from tests.conftest import ROOT
from tests.support.action_runner import run_action

SYNC = ROOT / "actions" / "template-sync" / "template_sync.py"
sys.path.insert(0, str(SYNC.parent))
from three_way import moved_actions_ref  # noqa: E402

REPO = "octo-org/demo"
PROJECT = "{{cookiecutter.project}}"
TEMPLATE_FILES = ("cookiecutter.json", "local_extensions.py", "hooks", PROJECT, "README.md")
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}  # fmt: skip
CACHES = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache")


def git(cwd, *args) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY})  # fmt: skip
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


def commit_all(repo: Path, message: str, tag: str | None = None) -> str:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


def edit(path: Path, change) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, f"the test's edit of {path} changed nothing"
    path.write_text(after)


@pytest.fixture
def template(tmp_path) -> Path:
    """A git repository holding this template (working tree), at v1.0.0."""
    copy = tmp_path / "template"
    copy.mkdir()
    for name in TEMPLATE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=CACHES)
        else:
            shutil.copy2(source, copy / name)
    git(copy, "init", "--quiet", "--initial-branch", "main")
    commit_all(copy, "template A", tag="v1.0.0")
    return copy


def bake_and_push(tmp_path: Path, template: Path, actions_ref: str, pin: str = "tag") -> Path:
    """The repo baked from the template, committed and pushed to a bare origin."""
    answers = {"actions_ref": actions_ref, "actions_pin": pin}
    project = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "user"),
                                extra_context=answers))  # fmt: skip
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", "main", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    commit_all(project, "Start from cookiecutter-mlops-gitops")
    git(project, "push", "--quiet", "origin", "main")
    return project


@pytest.fixture
def user_repo(tmp_path, template) -> Path:
    """Baked from v1.0.0 with the Actions pinned to that exact release."""
    return bake_and_push(tmp_path, template, actions_ref="v1.0.0")


def run_sync(project: Path, fake, *args, check=True) -> subprocess.CompletedProcess:
    env = {**os.environ, **fake.env(repository=REPO), **IDENTITY}
    env.pop("GITHUB_OUTPUT", None)
    done = subprocess.run([sys.executable, str(SYNC), "--base", "main", *args], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    if check:
        assert done.returncode == 0, f"template-sync failed:\n{done.stdout}\n{done.stderr}"
    return done


def result_of(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def listed(body: str, heading: str) -> list[str]:
    """The `path`s listed under the PR body's section whose heading starts with `heading`."""
    section = body.split(f"### {heading}", 1)[1].split("\n### ", 1)[0].split("\n---", 1)[0]
    return re.findall(r"^- `([^`]+)`", section, flags=re.M)


def on_branch(origin: Path, branch: str, path: str) -> str:
    return git(origin, "show", f"{branch}:{path}")


def files_on(origin: Path, branch: str) -> set[str]:
    return set(git(origin, "ls-tree", "-r", "--name-only", branch).splitlines())


def change_the_user_repo(project: Path) -> str:
    """Edit a module at its end, delete an optional file, edit the first line of .gitignore."""
    edit(project / "src/churn_model/training/train.py",
         lambda text: text + "\n\ndef user_helper():\n    return 'kept'\n")  # fmt: skip
    (project / "tests/unit/test_example_data.py").unlink()
    first = (project / ".gitignore").read_text().splitlines()[0]
    edit(project / ".gitignore", lambda text: text.replace(first, f"{first} (mine)", 1))
    commit_all(project, "User work")
    git(project, "push", "--quiet", "origin", "main")
    return first


def change_the_template(template: Path, gitignore_first_line: str) -> str:
    """v1.1.0: a new file, a changed workflow, module and deleted-file edits, a clashing line."""
    project = template / PROJECT
    (project / "UPGRADING.md").write_text("# Upgrading {{ cookiecutter.project }}\n")
    edit(project / ".github/workflows/template-sync.yml",
         lambda text: re.sub(r'cron: "[^"]+"', 'cron: "0 6 * * 2"', text))  # fmt: skip
    module = project / "src/{{cookiecutter.package}}/training/train.py"
    edit(module, lambda text: "# Changed in template v1.1.0.\n" + text)
    edit(project / "tests/unit/test_example_data.py", lambda text: "# v1.1.0\n" + text)
    ignore = project / ".gitignore"
    assert ignore.read_text().splitlines()[0] == gitignore_first_line  # no Jinja on that line
    edit(ignore, lambda text: text.replace(gitignore_first_line,
                                           f"{gitignore_first_line} (template)", 1))  # fmt: skip
    return commit_all(template, "template B", tag="v1.1.0")


def test_sync_opens_one_pr_with_exactly_the_template_changes(template, user_repo, fake_github):
    origin = user_repo.parent.parent / "origin.git"
    # Files that mention the Actions ref change with it (workflows calling the Actions).
    mention_ref = {
        path for path in git(user_repo, "ls-files").splitlines()
        if path != ".cruft.json" and "v1.0.0" in (user_repo / path).read_text(errors="replace")
    }  # fmt: skip
    first_line = change_the_user_repo(user_repo)
    main_before = git(origin, "rev-parse", "main")
    commit_b = change_the_template(template, first_line)

    done = run_sync(user_repo, fake_github)

    result = result_of(done)
    assert result["changed"] is True and result["created"] is True
    assert result["conflicts"] == 1
    assert list(fake_github.pulls[REPO]) == [result["number"]]
    pull = fake_github.pulls[REPO][result["number"]]
    assert (pull["head"]["ref"], pull["base"]["ref"]) == ("template-sync", "main")
    assert pull["title"] == "Template update: v1.0.0 → v1.1.0"
    assert [label["name"] for label in pull["labels"]] == ["template-sync"]
    body = pull["body"]
    expected = {
        ".github/workflows/template-sync.yml", "UPGRADING.md", "src/churn_model/training/train.py",
        ".gitignore",
    } | mention_ref  # fmt: skip
    assert set(listed(body, "Changed by the template")) == expected
    assert listed(body, "Conflicts") == [".gitignore"]
    assert listed(body, "Not applied") == ["tests/unit/test_example_data.py"]
    assert "`actions_ref` moves from `v1.0.0` to `v1.1.0`" in body

    # The branch holds exactly the template's changes on top of main, and the new state.
    assert git(origin, "rev-parse", "main") == main_before
    assert git(origin, "rev-parse", "template-sync^") == main_before
    changed = set(git(origin, "diff", "--name-only", "main", "template-sync").splitlines())
    assert changed == expected | {".cruft.json"}
    module = on_branch(origin, "template-sync", "src/churn_model/training/train.py")
    assert module.startswith("# Changed in template v1.1.0.\n")  # the template's edit ...
    assert module.endswith("def user_helper():\n    return 'kept'")  # ... and the user's
    assert "tests/unit/test_example_data.py" not in files_on(origin, "template-sync")
    assert on_branch(origin, "template-sync", "UPGRADING.md") == "# Upgrading churn-model"
    ignore = on_branch(origin, "template-sync", ".gitignore")
    assert (
        f"<<<<<<< template-sync/yours\n{first_line} (mine)\n=======\n{first_line} (template)\n"
        ">>>>>>> template-sync/v1.1.0\n"
    ) in ignore
    workflow = on_branch(origin, "template-sync", ".github/workflows/template-sync.yml")
    assert 'cron: "0 6 * * 2"' in workflow
    assert "/actions/template-sync@v1.1.0" in workflow
    state = json.loads(on_branch(origin, "template-sync", ".cruft.json"))
    assert (state["commit"], state["checkout"]) == (commit_b, "v1.1.0")
    assert state["context"]["cookiecutter"]["actions_ref"] == "v1.1.0"
    assert state["template"] == str(template)

    # The template moves on before the PR is merged: the same PR is updated.
    (template / PROJECT / "NEWS.md").write_text("news\n")
    commit_c = commit_all(template, "template C", tag="v1.2.0")
    second = result_of(run_sync(user_repo, fake_github))
    assert (second["created"], second["number"]) == (False, result["number"])
    assert list(fake_github.pulls[REPO]) == [result["number"]]
    assert fake_github.requests[-2].method == "PATCH"  # the update, then the label
    pull = fake_github.pulls[REPO][result["number"]]
    assert pull["title"] == "Template update: v1.0.0 → v1.2.0"
    assert set(listed(pull["body"], "Changed by the template")) == expected | {"NEWS.md"}
    state = json.loads(on_branch(origin, "template-sync", ".cruft.json"))
    assert (state["commit"], state["context"]["cookiecutter"]["actions_ref"]) == (
        commit_c, "v1.2.0",
    )  # fmt: skip

    # Nothing new: the branch is not pushed again (no new CI run); the PR stays the one.
    head = git(origin, "rev-parse", "template-sync")
    third = result_of(run_sync(user_repo, fake_github))
    assert (third["number"], third["head"]) == (result["number"], head)
    assert git(origin, "rev-parse", "template-sync") == head


@pytest.mark.slow
@pytest.mark.network  # installs cookiecutter from PyPI into a fresh venv, as on a runner
def test_the_action_runs_the_sync_as_a_workflow_step(template, user_repo, fake_github, tmp_path):
    """Phase `all`: bake and publish as steps of one job; the bake step holds no token."""
    (template / PROJECT / "UPGRADING.md").write_text("# Upgrading {{ cookiecutter.project }}\n")
    report = tmp_path / "stolen.txt"
    hostile_release(template, report)  # tags v1.1.0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    context = {"repository": REPO, "api_url": fake_github.url, "ref_name": "main"}

    result = run_action(SYNC.parent, {"token": CANARY}, cwd=user_repo, env=env, github=context)

    assert not result.failed, result.log
    assert (result.outputs["changed"], result.outputs["conflicts"]) == ("true", "0")
    pull = fake_github.pulls[REPO][int(result.outputs["number"])]
    assert result.outputs["url"] == pull["html_url"]
    assert pull["title"] == "Template update: v1.0.0 → v1.1.0"
    assert fake_github.requests[0].headers["authorization"] == f"Bearer {CANARY}"
    assert result.summary == pull["body"]
    origin = user_repo.parent.parent / "origin.git"
    assert on_branch(origin, "template-sync", "UPGRADING.md") == "# Upgrading churn-model"
    assert report.exists() and CANARY not in report.read_text()  # the hook ran, found nothing


def test_branch_with_someone_elses_commit_is_left_alone(template, user_repo, fake_github, tmp_path):
    origin = user_repo.parent.parent / "origin.git"
    first_line = change_the_user_repo(user_repo)
    change_the_template(template, first_line)
    run_sync(user_repo, fake_github)
    # A maintainer resolves the conflict on the branch.
    resolver = tmp_path / "resolver"
    git(tmp_path, "clone", "--quiet", "--branch", "template-sync", str(origin), str(resolver))
    (resolver / ".gitignore").write_text(f"{first_line} (resolved)\n")
    resolved = commit_all(resolver, "Resolve the template conflict")
    git(resolver, "push", "--quiet", "origin", "template-sync")
    requests = len(fake_github.requests)

    done = run_sync(user_repo, fake_github)

    assert "::warning::template-sync: branch template-sync has commits not made by" in done.stdout
    assert git(origin, "rev-parse", "template-sync") == resolved
    assert len(fake_github.requests) == requests  # the PR is not touched either


def test_no_template_change_opens_no_pr(template, tmp_path, fake_github):
    # The moving major tag: a patch release of the template leaves actions_ref as it is.
    user_repo = bake_and_push(tmp_path, template, actions_ref="v1")
    origin = tmp_path / "origin.git"
    done = run_sync(user_repo, fake_github)
    assert "up to date: the template at v1.0.0" in done.stdout
    assert result_of(done) == {"changed": False}

    # A template release that changes nothing this repo renders: still nothing to do.
    edit(template / "README.md", lambda text: text + "\nA note for template maintainers.\n")
    commit_all(template, "docs only", tag="v1.0.1")
    done = run_sync(user_repo, fake_github)
    assert "the template's output for this repo is the same" in done.stdout
    assert result_of(done) == {"changed": False}

    assert fake_github.requests == []
    assert git(origin, "branch", "--list", "template-sync") == ""


BROKEN_STATES = [
    (lambda state: {**state, "commit": None}, ".cruft.json records no template commit"),
    (lambda state: {**state, "commit": "f" * 40}, "the recorded commit ffffffffffff is not in"),
    (lambda state: "{not json", ".cruft.json on main is not cruft's format"),
    (lambda state: {"template": "x"}, ".cruft.json on main is not cruft's format"),
    (lambda state: None, ".cruft.json is missing on main"),
]


@pytest.mark.parametrize("breakage, message", BROKEN_STATES, ids=[m for _, m in BROKEN_STATES])
def test_unusable_cruft_json_is_a_readable_error(user_repo, fake_github, breakage, message):
    path = user_repo / ".cruft.json"
    state = breakage(json.loads(path.read_text()))
    if state is None:
        path.unlink()
    else:
        path.write_text(state if isinstance(state, str) else json.dumps(state))
    commit_all(user_repo, "break .cruft.json")
    done = run_sync(user_repo, fake_github, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(f"template-sync: {message}")
    assert fake_github.requests == []


@pytest.mark.parametrize(
    "current, target, expected",
    [
        ("v1.0.0", "v1.1.0", "v1.1.0"),  # an exact release follows the release
        ("v1", "v1.4.2", "v1"),  # the moving major tag stays one
        ("v1", "v2.0.0", "v2"),  # ... of the new major
        ("a" * 40, "v1.1.0", "c" * 40),  # a SHA pin stays a SHA pin, of the new commit
        ("v1", "main", "main"),  # a branch update: the Actions of that branch
    ],
)
def test_actions_ref_moves_with_the_template(current, target, expected):
    assert moved_actions_ref(current, target, "c" * 40) == expected


def test_bake_records_template_commit_and_answers(template, tmp_path):
    commit = git(template, "rev-parse", "HEAD")
    project = Path(cookiecutter(f"git+file://{template}", checkout="v1.0.0", no_input=True,
                                output_dir=str(tmp_path / "from-url"),
                                config_file=str(cookiecutter_config(tmp_path))))  # fmt: skip
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == f"file://{template}"  # the URL cookiecutter cloned
    assert (state["commit"], state["checkout"], state["directory"]) == (commit, "v1.0.0", None)
    assert state["skip"] == []
    answers = state["context"]["cookiecutter"]
    assert answers["project"] == "churn-model" and answers["actions_ref"] == "v1"
    assert not [key for key in answers if key.startswith("_") and key != "_template"]


def test_bake_from_a_plain_folder_records_no_commit_and_says_so(template, tmp_path, capfd):
    plain = tmp_path / "plain"
    shutil.copytree(template, plain, ignore=shutil.ignore_patterns(".git"))
    project = Path(cookiecutter(str(plain), no_input=True, output_dir=str(tmp_path / "out"),
                                extra_context={"actions_pin": "tag"}))  # fmt: skip
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(plain), None)
    assert "the template is not a git checkout" in capfd.readouterr().out


def cookiecutter_config(tmp_path: Path) -> Path:
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f'cookiecutters_dir: "{tmp_path}/cutters"\nreplay_dir: "{tmp_path}/replay"\n')
    return config


def test_sync_moves_the_sha_pin_of_the_actions(template, tmp_path, fake_github):
    """actions_pin=sha (the default): the update pins the Actions to the new release's commit."""
    user_repo = bake_and_push(tmp_path, template, actions_ref="v1", pin="sha")
    old = git(template, "rev-parse", "HEAD")
    ci = (user_repo / ".github/workflows/ci.yml").read_text()
    assert f'/actions/setup@{old}" # v1.0.0' in ci
    (template / PROJECT / "NEWS.md").write_text("news\n")
    new = commit_all(template, "template B", tag="v1.1.0")
    result = result_of(run_sync(user_repo, fake_github))
    assert result["changed"] is True
    ci = on_branch(tmp_path / "origin.git", "template-sync", ".github/workflows/ci.yml")
    assert f'/actions/setup@{new}" # v1.1.0' in ci and old not in ci


# -- template code gets no token; answers stay data; only releases merge (issue 19, item 3) --

CANARY = "t0ken-canary-5f2c"  # the write token; a hook must not find it anywhere it can read
# Prepended to the template's post-gen hook at v1.1.0: collects every environment it can read
# (its own, and /proc/*/environ of every process it may open: its parents, the runner's
# steps) into a report, as a hostile template release would before sending it away.
HOSTILE_HOOK = """import os as _os, pathlib as _pl
_seen = [repr(dict(_os.environ))]
for _f in _pl.Path("/proc").glob("[0-9]*/environ"):
    try:
        _seen.append(_f.read_bytes().decode(errors="replace"))
    except OSError:
        pass
_pl.Path(REPORT).write_text("\\n".join(_seen))
"""


def hostile_release(template: Path, report: Path) -> None:
    hook = template / "hooks" / "post_gen_project.py"
    code = HOSTILE_HOOK.replace("REPORT", json.dumps(str(report)))
    hook.write_text(code + hook.read_text())
    (template / PROJECT / "NEWS.md").write_text("news\n")
    commit_all(template, "template B (hostile hook)", tag="v1.1.0")


def phase(project: Path, name: str, work: Path, env: dict, *args) -> subprocess.CompletedProcess:
    """One phase of the sync as its own process, as the Action's steps (and jobs) run them."""
    command = [sys.executable, str(SYNC), "--phase", name, "--work", str(work), "--base", "main"]
    return subprocess.run([*command, *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_a_hostile_hook_finds_no_token(template, user_repo, fake_github, tmp_path):
    report = tmp_path / "stolen.txt"
    hostile_release(template, report)
    work = tmp_path / "work"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    clean |= IDENTITY
    # fetch: git clone only; bake: no token anywhere; publish: the token, on what was baked.
    assert phase(user_repo, "fetch", work, clean).returncode == 0
    baked = phase(user_repo, "bake", work, clean)
    assert baked.returncode == 0, baked.stderr
    bundle = json.loads(baked.stdout.strip().splitlines()[-1])["bundle"]
    published = phase(user_repo, "publish", tmp_path / "publish-job",
                      {**clean, **fake_github.env(repository=REPO, token=CANARY)},
                      "--bundle", bundle)  # fmt: skip
    assert published.returncode == 0, published.stderr
    assert result_of(published)["changed"] is True
    assert report.exists(), "the hostile hook did not run: the test proves nothing"
    stolen = report.read_text()
    assert CANARY not in stolen
    assert "GITHUB_TOKEN" not in stolen.split("\n", 1)[0]  # the hook's own environment


def test_the_bake_phase_refuses_to_start_with_a_token(user_repo, tmp_path):
    env = {**os.environ, **IDENTITY, "GITHUB_TOKEN": CANARY}
    done = phase(user_repo, "bake", tmp_path / "work", env)
    assert done.returncode == 1
    assert "start it without GITHUB_TOKEN" in done.stderr


def test_a_hostile_answer_is_refused_and_nothing_runs(template, user_repo, fake_github, tmp_path):
    marker, report = tmp_path / "pwned", tmp_path / "stolen.txt"
    hostile_release(template, report)
    path = user_repo / ".cruft.json"
    state = json.loads(path.read_text())
    payload = f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"
    state["context"]["cookiecutter"]["description"] = payload
    path.write_text(json.dumps(state))
    commit_all(user_repo, "a hostile answer")
    done = run_sync(user_repo, fake_github, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "template-sync: the answer 'description' in .cruft.json holds the Jinja delimiter '{{'"
    )
    assert not marker.exists() and not report.exists()  # neither the answer nor a hook ran
    assert fake_github.requests == []


@pytest.mark.parametrize("ref", ["main", "v1.1", "v1.1.0-rc1", "HEAD~1", "--upload-pack=x"])
def test_only_release_tags_of_the_template_are_merged(template, user_repo, fake_github, ref):
    (template / PROJECT / "NEWS.md").write_text("news\n")
    commit_all(template, "unreleased work on main")
    done = run_sync(user_repo, fake_github, f"--ref={ref}", check=False)
    assert done.returncode == 1
    assert f"ref {ref!r} is not a release tag: template-sync merges only tags vX.Y.Z" in done.stderr
    # With no ref, the newest release is the target: unreleased commits on main are not.
    done = run_sync(user_repo, fake_github)
    assert "up to date: the template at v1.0.0" in done.stdout
    assert fake_github.requests == []
