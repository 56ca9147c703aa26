"""Static checks of the Actions and of every workflow: this repository's and the generated ones.

Schemas (check-jsonschema's GitHub vendor schemas), actionlint, zizmor, shellcheck, and the
rules for workflows and Actions (actions/README.md) that no linter checks for us: third-party
Actions pinned to a commit SHA with its version in a comment, no `${{ }}` inside `run:`,
every referenced Action exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, bake
from tests.support import linters
from tests.support.act_runner import STANDINS, MissingStandIn, local_repositories
from tests.support.action_runner import evaluate

ACTIONS_REPO = "your-org/cookiecutter-mlops-gitops"  # cookiecutter.json's default
ACTION_FILES = sorted(ROOT.glob("actions/*/action.yml"))
OWN_WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
TEMPLATE_GITHUB = ROOT / "{{cookiecutter.project}}" / ".github"
SCRIPTS = sorted(ROOT.glob("actions/**/*.sh"))
SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\b")
EXPRESSION = re.compile(r"\$\{\{")
VARIANTS = {
    "default": {},
    "kubernetes": {"deploy_target": "kubernetes"},
    "tag": {"actions_pin": "tag"},
}
PERSONAS = ["regular", "pedantic", "auditor"]


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    """The default bake and the kubernetes variant: name -> project path."""
    return {
        name: bake(tmp_path_factory.mktemp(name), **answers) for name, answers in VARIANTS.items()
    }


@pytest.fixture(scope="module")
def generated_workflows(baked):
    found = [p for project in baked.values() for p in (project / ".github/workflows").glob("*.yml")]
    assert found, "the bakes hold no workflows"
    return found


def all_workflows(generated_workflows):
    return [*OWN_WORKFLOWS, *generated_workflows]


def assert_clean(done, tool):
    assert done.returncode == 0, f"{tool} found problems:\n{done.stdout}\n{done.stderr}"


# -- schemas and linters --------------------------------------------------------------------


def test_there_are_actions_and_workflows():
    names = {path.parent.name for path in ACTION_FILES}
    assert {"setup", "data-check", "dvc-repro", "model-tests", "build-image", "pr-comment",
            "open-pr"} <= names  # fmt: skip
    assert OWN_WORKFLOWS


def test_action_files_match_the_schema():
    stand_ins = sorted(STANDINS.rglob("action.yml"))  # cache/restore: a sub-path Action
    done = linters.check_jsonschema("vendor.github-actions", [*ACTION_FILES, *stand_ins])
    assert_clean(done, "schema")


def test_workflows_match_the_schema(generated_workflows):
    done = linters.check_jsonschema("vendor.github-workflows", all_workflows(generated_workflows))
    assert_clean(done, "schema")


def test_dependabot_matches_the_schema(baked):
    files = [ROOT / ".github/dependabot.yml"]
    files += [project / ".github/dependabot.yml" for project in baked.values()]
    assert_clean(linters.check_jsonschema("vendor.dependabot", files), "schema")


def test_actionlint_is_clean(generated_workflows):
    assert_clean(linters.actionlint(all_workflows(generated_workflows)), "actionlint")


def test_zizmor_is_clean_on_this_repository():
    done = linters.zizmor([ROOT / ".github/workflows", *[p.parent for p in ACTION_FILES]],
                          persona="pedantic")  # fmt: skip
    assert_clean(done, "zizmor")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_zizmor_is_clean_on_the_generated_repo(baked, variant, persona):
    # zizmor finds the generated .github/zizmor.yml itself: ref pins are allowed for the
    # template's own Actions only when baked with actions_pin=tag (see that file). The
    # auditor persona also wants every secret inside a GitHub environment.
    assert_clean(linters.zizmor(baked[variant], persona=persona), f"zizmor ({persona})")


@pytest.mark.parametrize("persona", PERSONAS)
def test_zizmor_is_clean_on_the_actions_for_every_persona(persona):
    assert_clean(linters.zizmor([p.parent for p in ACTION_FILES], persona=persona), persona)


def test_zizmor_policy_is_what_allows_our_ref_pins(baked):
    """Without the generated policy, zizmor flags the `@v1` pins: the policy is doing work."""
    project = baked["tag"]
    empty = project.parent / "empty-zizmor.yml"
    empty.write_text("rules: {}\n")
    done = linters.zizmor(project / ".github/workflows/ci.yml", config=empty)
    assert done.returncode != 0
    assert "unpinned-uses" in done.stdout


def test_shellcheck_is_clean(generated_workflows, tmp_path):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        raise linters.LinterMissing("shellcheck not found; install it: apt-get install shellcheck")
    scripts = list(SCRIPTS)
    for index, (where, script) in enumerate(run_blocks(generated_workflows)):
        path = tmp_path / f"run-{index}.sh"
        path.write_text(f"#!/usr/bin/env bash\n# {where}\n{script}\n")
        scripts.append(path)
    done = subprocess.run([shellcheck, "--shell=bash", "--external-sources", *map(str, scripts)],
                          capture_output=True, text=True)  # fmt: skip
    assert_clean(done, "shellcheck")


# -- rules no linter checks --------------------------------------------------------------------


def steps_of(path: Path):
    """(where, step) for every step of an action.yml or a workflow."""
    data = yaml.safe_load(path.read_text())
    if "runs" in data:
        for index, step in enumerate(data["runs"].get("steps") or []):
            yield f"{path}: step {index + 1}", step
    for job_name, job in (data.get("jobs") or {}).items():
        if "uses" in job:  # a reusable workflow call
            yield f"{path}: job {job_name}", job
        for index, step in enumerate(job.get("steps") or []):
            yield f"{path}: job {job_name} step {index + 1}", step


def run_blocks(generated_workflows):
    for path in [*ACTION_FILES, *all_workflows(generated_workflows)]:
        for where, step in steps_of(path):
            if "run" in step:
                yield where, step["run"]


def uses_lines(path: Path):
    """(line, value) of every `uses:` line, comments kept (yaml drops them)."""
    for line in path.read_text().splitlines():
        match = re.match(r"\s*(?:-\s+)?uses:\s*[\"']?([^\"'\s#]+)[\"']?\s*(#.*)?$", line)
        if match:
            yield line, match.group(1)


def test_third_party_actions_are_pinned_to_a_sha_with_its_version(generated_workflows):
    bad = []
    for path in [*ACTION_FILES, *all_workflows(generated_workflows)]:
        for line, ref in uses_lines(path):
            if ref.startswith(("./", "docker://")) or ref.startswith(f"{ACTIONS_REPO}/"):
                continue
            if not SHA_PIN.match(ref) or not VERSION_COMMENT.search(line):
                bad.append(f"{path.name}: {line.strip()}")
    assert not bad, "third-party Actions need `@<40-hex SHA> # vX.Y.Z`:\n" + "\n".join(bad)


def test_pins_agree_everywhere(generated_workflows):
    """One SHA per third-party Action across the Actions, our workflows and the template's.

    Dependabot bumps the first two; the template's workflows are Jinja it cannot read, so
    this test points at them when a bump left them behind.
    """
    pins: dict[str, set[str]] = {}
    for path in [*ACTION_FILES, *all_workflows(generated_workflows)]:
        for line, ref in uses_lines(path):
            if SHA_PIN.match(ref) and not ref.startswith(f"{ACTIONS_REPO}/"):
                name, sha = ref.split("@")
                comment = VERSION_COMMENT.search(line).group(0).lstrip("# ")
                pins.setdefault(name, set()).add(f"{sha} ({comment})")
    split = {name: sorted(shas) for name, shas in pins.items() if len(shas) > 1}
    assert not split, f"one Action pinned to different commits: {split}"


def test_the_pin_check_catches_a_tag(tmp_path):
    workflow = tmp_path / "bad.yml"
    workflow.write_text("jobs:\n  a:\n    steps:\n      - uses: actions/checkout@v5\n")
    refs = [ref for _, ref in uses_lines(workflow)]
    assert refs == ["actions/checkout@v5"] and not SHA_PIN.match(refs[0])


def test_no_expression_inside_run(generated_workflows):
    """Inputs and event data reach shell only through `env:` (no script injection)."""
    bad = [where for where, script in run_blocks(generated_workflows) if EXPRESSION.search(script)]
    assert not bad, "`${{ }}` inside run: (map it through env:):\n" + "\n".join(bad)


def test_scripts_do_not_read_input_variables():
    """The runner gives composite steps no INPUT_* variables: a script reading one is a bug."""
    bad = [str(p) for p in [*SCRIPTS, *ROOT.glob("actions/**/*.py")] if "INPUT_" in p.read_text()]
    assert not bad, bad


def test_every_run_step_of_an_action_says_shell_bash():
    bad = [where for path in ACTION_FILES for where, step in steps_of(path)
           if "run" in step and step.get("shell") != "bash"]  # fmt: skip
    assert not bad, bad


def test_every_referenced_action_exists(generated_workflows):
    missing = []
    for path in [*ACTION_FILES, *all_workflows(generated_workflows)]:
        for _, ref in uses_lines(path):
            if ref.startswith("./"):
                target = ROOT / ref
            elif ref.startswith(f"{ACTIONS_REPO}/"):
                target = ROOT / ref.removeprefix(f"{ACTIONS_REPO}/").split("@")[0]
            else:
                continue
            if not (target / "action.yml").is_file():
                missing.append(f"{path.name}: {ref}")
    assert not missing, missing


def test_generated_workflows_use_the_answers(tmp_path):
    project = bake(tmp_path, actions_repo="acme/ml-actions", actions_ref="v2.3.0",
                   actions_pin="tag")  # fmt: skip
    text = (project / ".github/workflows/ci.yml").read_text()
    assert 'uses: "acme/ml-actions/actions/setup@v2.3.0" # v2.3.0 (moving tag)' in text
    assert ACTIONS_REPO not in text
    policy = yaml.safe_load((project / ".github/zizmor.yml").read_text())
    assert "acme/ml-actions/*" in policy["rules"]["unpinned-uses"]["config"]["policies"]


def test_workflow_templates_are_valid_yaml_before_rendering():
    """Each `${{ }}` is escaped on its own, so the template file itself stays YAML."""
    for path in sorted(TEMPLATE_GITHUB.rglob("*.yml")):
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            pytest.fail(f"{path.relative_to(ROOT)} is not valid YAML: {error}")


def test_ci_workflow_follows_the_rules(baked):
    ci = yaml.safe_load((baked["default"] / ".github/workflows/ci.yml").read_text())
    assert ci["permissions"] == {}
    assert ci["concurrency"]["cancel-in-progress"] is True
    triggers = ci.get("on") or ci.get(True)  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"}
    for name, job in ci["jobs"].items():
        assert "write" not in str(job["permissions"]) or name in ("publish", "comment"), name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
    uses = " ".join(step.get("uses", "") for job in ci["jobs"].values() for step in job["steps"])
    for action in ("setup", "data-check", "dvc-repro", "model-tests", "build-image", "pr-comment"):
        assert f"{ACTIONS_REPO}/actions/{action}@" in uses
    assert ci["jobs"]["image"]["steps"][-1]["with"]["push"] == "false"
    assert ci["jobs"]["publish"]["steps"][-1]["with"]["push"] == "true"


def template_head() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_own_actions_are_called_by_the_template_commit_by_default(baked):
    """actions_pin=sha (the default): every call of our Actions names the commit baked."""
    head = template_head()
    calls = [(line, ref) for path in (baked["default"] / ".github/workflows").glob("*.yml")
             for line, ref in uses_lines(path) if ref.startswith(f"{ACTIONS_REPO}/")]  # fmt: skip
    assert len(calls) >= 20
    for line, ref in calls:
        assert ref.endswith(f"@{head}"), line
        assert re.search(r"#\s*\S", line), f"no version comment: {line}"
    tagged = (baked["tag"] / ".github/workflows/ci.yml").read_text()
    assert '/actions/setup@v1" # v1 (moving tag)' in tagged


def runs_on(job, event, ref) -> bool:
    condition = str(job.get("if", "true")).strip().removeprefix("${{").removesuffix("}}")
    context = {"github": {"event_name": event, "ref": ref}, "vars": {}, "_failed": False}
    return bool(evaluate(condition, context))


def test_pull_request_runs_hold_no_write_permission(baked):
    """On a pull request only the comment job may write, and only its comment."""
    ci = yaml.safe_load((baked["default"] / ".github/workflows/ci.yml").read_text())
    writing = {name: job["permissions"] for name, job in ci["jobs"].items()
               if runs_on(job, "pull_request", "refs/pull/1/merge")
               and "write" in job["permissions"].values()}  # fmt: skip
    assert writing == {"comment": {"pull-requests": "write"}}
    assert runs_on(ci["jobs"]["publish"], "push", "refs/heads/main")
    assert not runs_on(ci["jobs"]["image"], "push", "refs/heads/main")


def test_secrets_are_used_only_in_jobs_of_an_environment(baked):
    for project in baked.values():
        for path in (project / ".github/workflows").glob("*.yml"):
            for name, job in yaml.safe_load(path.read_text())["jobs"].items():
                if "secrets." in str(job):
                    assert job.get("environment"), f"{path.name}: job {name} uses secrets"


# -- the stand-ins the act tests use (tests/test_workflows_act.py) --------------------------------


def test_every_pinned_action_has_a_local_stand_in(baked):
    """A new third-party pin must come with its stand-in, or the workflows cannot run offline."""
    for project in [*baked.values(), ROOT]:
        mapped = local_repositories(project, ACTIONS_REPO)  # raises MissingStandIn
        assert any(m.startswith("actions/checkout@") for m in mapped), mapped


def test_stand_ins_take_every_input_the_steps_pass(generated_workflows):
    """Same inputs as the real Action: a `with:` key a stand-in does not declare would be a
    step the offline run silently does differently."""
    missing = []
    for path in [*ACTION_FILES, *all_workflows(generated_workflows)]:
        for where, step in steps_of(path):
            ref = step.get("uses", "")
            if "@" not in ref or ref.startswith((f"{ACTIONS_REPO}/", "./")):
                continue
            spec = yaml.safe_load((STANDINS / ref.split("@")[0] / "action.yml").read_text())
            missing += [f"{where}: {ref.split('@')[0]} has no input {key!r}"
                        for key in step.get("with") or {} if key not in spec["inputs"]]  # fmt: skip
    assert not missing, "\n".join(missing)


def test_a_pin_without_a_stand_in_is_refused(tmp_path):
    workflows = tmp_path / ".github/workflows"
    workflows.mkdir(parents=True)
    (workflows / "x.yml").write_text("jobs:\n  a:\n    steps:\n      - uses: acme/new@" + "a" * 40)
    with pytest.raises(MissingStandIn, match="acme/new"):
        local_repositories(tmp_path, ACTIONS_REPO)
