"""`deploy --env ENV`: make an environment match deploy/ENV.yaml, or put it back as it was.

1. The pinned version must be in the registry with the lineage tag `gates=passed`.
2. The version behind the alias ENV is remembered, then the alias moves to the pin.
3. The target rolls out (local: the `serve --alias ENV` process follows the alias;
   kubernetes: kubectl apply of the overlay, canary first) and smoke-tests what serves.
4. On any failure the alias moves back (or is removed when no version had it), the target
   restores its previous rollout, and the command exits 1 with the reason. So does an
   interruption: Ctrl-C, or the SIGTERM of a cancelled or timed-out CI job; the
   interruption (or a bug's traceback) then goes on as it came.

Each deployment is recorded as `deploy.ENV.*` tags on the version and in
reports/deploy-ENV.json and .md.
"""

import signal
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

from ..config import CliError, load_params, tracking_uri
from ..registry import client, git_commit
from ..reports import markdown_table, write_report
from .desired_state import (
    ENVIRONMENTS,
    DeployFailed,
    deploy_file,
    image_ref,
    load_deploy,
    load_smoke_cases,
    pinned_version,
)
from .smoke import smoke_test


def deploy(args):
    env = args.env
    settings = load_deploy(env)
    name = checked_model_name(settings, env)
    version = pinned_version(settings)
    if version is None:
        raise CliError(f"{deploy_file(env)} pins no model version yet: {PIN_FIRST[env]}")
    registry = client()
    check_deployable(registry, name, version, env)
    previous = alias_version(registry, name, env)
    target = make_target(env, settings)
    cases, timeouts = load_smoke_cases(), load_params()["timeouts"]
    record = {
        "environment": env,
        "target": settings["target"],
        "model": name,
        "version": version,
        "previous_version": previous,
        "commit": git_commit(),
        "image": image_ref(settings),
        "started": now(),
        "smoke": [],
    }
    print(
        f"Deploying {name} version {version} to {env} on {target.describe()} "
        f"(before: {'version ' + previous if previous else 'nothing'}).",
        flush=True,
    )

    def smoke(url, stage):
        result = smoke_test(url, version, cases, settings["smoke"], timeouts) | {"stage": stage}
        record["smoke"].append(result)
        print(smoke_summary(result), flush=True)
        if not result["passed"]:
            failed = [f"{c['name']}: {c['detail']}" for c in result["checks"] if not c["passed"]]
            raise DeployFailed(f"the smoke test of {stage} failed ({'; '.join(failed)})")

    try:
        with sigterm_raises():
            registry.set_registered_model_alias(name, env, version)
            target.roll_out(version, smoke)
    except BaseException as error:  # whatever stopped it, the environment goes back
        reason = failure_reason(error)
        with signals_ignored():  # a second Ctrl-C or the runner's next signal: finish first
            restored = roll_back(registry, name, env, previous, target)
            finish(registry, record, "rolled_back", reason=reason, rollback=restored)
        message = (
            f"Deploying {name} version {version} to {env} failed: {reason}. "
            f"Rolled back: {restored}. Details in reports/deploy-{env}.md."
        )
        if isinstance(error, DeployFailed | CliError):
            raise CliError(message) from error
        print(message, file=sys.stderr, flush=True)
        raise  # an interruption stays one; a bug keeps its traceback
    finish(registry, record, "succeeded")
    print(f"{env} serves {name} version {version}; alias {env} points to it.")


class Terminated(BaseException):
    """SIGTERM arrived (a cancelled or timed-out job): unwinds like KeyboardInterrupt."""


@contextmanager
def sigterm_raises():
    """SIGTERM ends Python without unwinding; turn it into Terminated so rollback runs."""

    def terminated(signum, frame):
        raise Terminated(f"stopped by signal {signal.Signals(signum).name}")

    before = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def signals_ignored():
    before = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def failure_reason(error):
    if isinstance(error, DeployFailed | CliError):
        return str(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C or SIGINT)"
    if isinstance(error, Terminated):
        return f"interrupted ({error})"
    if isinstance(error, SystemExit):
        return f"stopped by sys.exit({error.code!r})"
    return repr(error)


# What pins a version in each deploy file; the files themselves are not edited by hand.
PIN_FIRST = {
    "staging": "`make promote FROM=candidate TO=staging` pins the version `make pipeline` "
    "registered (cd.yml does the same after each merge to main), then deploy again.",
    "production": "`make promote` pins the version staging runs (deploy staging first), then "
    "deploy again.",
}


def checked_model_name(settings, env):
    name = load_params()["registry"]["model_name"]
    if settings["model"]["name"] != name:
        raise CliError(
            f"{deploy_file(env)} names model {settings['model']['name']!r} but params.yaml "
            f"registers {name!r}: make them the same."
        )
    return name


def check_deployable(registry, name, version, env):
    from mlflow.exceptions import MlflowException

    try:
        tags = registry.get_model_version(name, version).tags
    except MlflowException:
        raise CliError(
            f"{deploy_file(env)} pins {name} version {version}, which is not in the registry "
            f"at {tracking_uri()}: pin a registered version (MLFLOW_TRACKING_URI selects the "
            "registry)."
        ) from None
    if tags.get("gates") != "passed":
        raise CliError(
            f"{name} version {version} does not carry the lineage tag gates=passed (it has "
            f"{tags.get('gates')!r}): only a version that passed its gates is deployed; "
            "register one with `make pipeline`."
        )


def alias_version(registry, name, alias):
    from mlflow.exceptions import MlflowException

    try:
        return str(registry.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def make_target(env, settings):
    if settings["target"] == "kubernetes":
        from .kubernetes_target import KubernetesTarget

        return KubernetesTarget(env, settings)
    from .local_target import LocalTarget

    return LocalTarget(env, settings)


def roll_back(registry, name, env, previous, target):
    """Alias first (what servers follow), then the target's own rollout; says what it did."""
    if previous is None:
        registry.delete_registered_model_alias(name, env)
        done = [f"alias {env} removed (no version had it before)"]
    else:
        registry.set_registered_model_alias(name, env, previous)
        done = [f"alias {env} points to version {previous} again"]
    try:
        done.append(target.roll_back(previous))
    except Exception as error:
        done.append(f"restoring {target.describe()} FAILED as well: {error}")
    return "; ".join(done)


def finish(registry, record, outcome, reason=None, rollback=None):
    record |= {"finished": now(), "outcome": outcome, "reason": reason, "rollback": rollback}
    env, tags = (
        record["environment"],
        {
            "outcome": outcome,
            "time": record["finished"],
            "commit": record["commit"],
            "previous_version": record["previous_version"] or "none",
        },
    )
    if reason:
        tags["reason"] = reason[:1000]
    for key, value in tags.items():
        registry.set_model_version_tag(
            record["model"], record["version"], f"deploy.{env}.{key}", value
        )
    write_report(f"deploy-{env}", record, deploy_markdown(record))


def now():
    return datetime.now(UTC).isoformat(timespec="seconds")


def smoke_summary(result):
    lines = [f"Smoke test of {result['stage']} at {result['url']}:"]
    lines += [
        f"  {'pass' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}"
        for c in result["checks"]
    ]
    return "\n".join(lines)


def deploy_markdown(record):
    rows = [
        ("environment", record["environment"]),
        ("target", record["target"]),
        ("model", record["model"]),
        ("version", record["version"]),
        ("previous version", record["previous_version"] or "none"),
        ("commit", f"`{record['commit']}`"),
        ("image", record["image"] or "-"),
        ("started", record["started"]),
        ("finished", record["finished"]),
    ]
    parts = [
        f"## Deploy {record['model']} version {record['version']} to "
        f"{record['environment']}: {record['outcome'].replace('_', ' ')}",
        markdown_table(["", ""], rows),
    ]
    if record["reason"]:
        parts += [f"**Reason:** {record['reason']}", f"**Rollback:** {record['rollback']}"]
    for result in record["smoke"]:
        checks = [
            (c["name"], "pass" if c["passed"] else "**FAIL**", c["detail"])
            for c in result["checks"]
        ]
        parts += [
            f"### Smoke test of {result['stage']} ({result['url']})",
            markdown_table(["check", "result", "detail"], checks),
        ]
    return "\n\n".join(parts)


def add_arguments(parser):
    parser.add_argument(
        "--env",
        required=True,
        choices=ENVIRONMENTS,
        help="environment whose deploy/ENV.yaml to apply",
    )


run = deploy
