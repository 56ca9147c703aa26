"""`promote --from SOURCE --to ENV`: pin in deploy/ENV.yaml the version SOURCE runs, and
write the pull-request body that compares it with the version ENV runs now.

SOURCE is an environment (the version its deploy file pins, which must have deployed
there successfully) or a registry alias such as `candidate` (how cd.yml pins staging after
a merge to main). Nothing is deployed here: the commit or pull request that carries the
changed file is what deploys, so git records every promotion and a revert undoes it.

Before it pins, the version is held against the champion, the version behind @production
(training/compare.py: same test rows, `gates.max_regression`, fairness gates). A worse one is
refused and nothing changes, unless `--override-reason TEXT` says why it should go anyway: the
reason is then kept on the version as the registry tag `promotion_override.ENV`.
"""

from ..config import REPORTS_DIR, CliError, load_params
from ..reports import markdown_table, read_report, write_report
from ..training.compare import REFUSED, champion_challenger
from ..training.compare import markdown as comparison_markdown
from ..training.task import BY_NAME, BinaryClassification
from .desired_state import ENVIRONMENTS, deploy_file, load_deploy, pin, pinned_version

LINEAGE = (
    ("git commit", "git_commit"),
    ("data hash", "data_hash"),
    ("params hash", "params_hash"),
    ("model type", "model_type"),
)


def promote(args):
    if args.source == args.to:
        raise CliError(f"--from and --to are both {args.to}: promote from another environment.")
    params = load_params()
    name = params["registry"]["model_name"]
    registry = _client()
    version, digest = source_version(registry, name, args.source)
    digest = args.digest or digest
    new = version_tags(registry, name, version, f"promoted from {args.source}")
    if new.get("gates") != "passed":
        raise CliError(
            f"{name} version {version} did not pass its gates (tag gates="
            f"{new.get('gates')!r}): it cannot be promoted."
        )
    settings = load_deploy(args.to)
    current = pinned_version(settings)
    contest = challenge(params, registry, name, version, args)
    old = (
        version_tags(registry, name, current, f"pinned in {deploy_file(args.to)}")
        if current
        else {}
    )
    changed = current != version or bool(digest and digest != settings["image"].get("digest"))
    if changed:
        pin(args.to, version, digest)
    result = {
        "model": name,
        "source": args.source,
        "environment": args.to,
        "version": version,
        "previous_version": current,
        "digest": digest,
        "changed": changed,
        "comparison": comparison(old, new),
        "champion_challenger": contest,
    }
    write_report(f"promote-{args.to}", result, pull_request_body(result, old, new))
    if changed:
        print(
            f"{deploy_file(args.to)}: {name} version {current or 'none'} -> {version}. "
            f"Pull request body: reports/promote-{args.to}.md."
        )
    else:
        print(f"{deploy_file(args.to)} already pins {name} version {version}; nothing changed.")


def challenge(params, registry, name, version, args):
    """The champion/challenger result; CliError (nothing pinned) when the version is refused
    and no --override-reason says why it should go anyway."""
    result = champion_challenger(params, challenger=version, live_rows=args.live_rows)
    result["override_reason"] = None
    if result["verdict"] == REFUSED:
        if not args.override_reason:
            write_report(f"promote-{args.to}", {"refused": result}, comparison_markdown(result))
            raise CliError(
                f"{result['summary'].removesuffix(' See reports/compare.md.')} Nothing was "
                f"promoted: {deploy_file(args.to)} is unchanged (table: reports/promote-"
                f"{args.to}.md). To promote it anyway, add --override-reason 'why'."
            )
        registry.set_model_version_tag(name, version, f"promotion_override.{args.to}",
                                       args.override_reason)  # fmt: skip
        result["override_reason"] = args.override_reason
    return result


def _client():
    from ..registry import client

    return client()


def source_version(registry, name, source):
    """(version, image digest or None) of an environment's deploy file or of an alias."""
    if source in ENVIRONMENTS:
        settings = load_deploy(source)
        version = pinned_version(settings)
        if version is None:
            raise CliError(f"{deploy_file(source)} pins no version: deploy {source} first.")
        outcome = version_tags(registry, name, version, source).get(f"deploy.{source}.outcome")
        if outcome != "succeeded":
            raise CliError(
                f"{name} version {version} has not deployed successfully to {source} (last "
                f"outcome: {outcome or 'never deployed'}): promote only what {source} runs."
            )
        return version, settings["image"].get("digest")
    from mlflow.exceptions import MlflowException

    try:
        return str(registry.get_model_version_by_alias(name, source).version), None
    except MlflowException:
        raise CliError(
            f"{source!r} is neither an environment ({', '.join(ENVIRONMENTS)}) nor an alias of "
            f"{name} in the registry: register a model first (`make pipeline`)."
        ) from None


def version_tags(registry, name, version, where):
    from mlflow.exceptions import MlflowException

    try:
        return {"version": str(version), **registry.get_model_version(name, version).tags}
    except MlflowException:
        raise CliError(f"{name} version {version} ({where}) is not in the registry.") from None


def comparison(old, new):
    """Every metric.* and fairness.* lineage tag: {name: {"old", "new", "change"}}."""
    names = sorted(k for k in {**old, **new} if k.startswith(("metric.", "fairness.")))
    rows = {}
    for key in names:
        before, after = _number(old.get(key)), _number(new.get(key))
        change = after - before if None not in (before, after) else None
        rows[key] = {"old": before, "new": after, "change": change}
    return rows


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _cell(value, signed=False):
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def pull_request_body(result, old, new):
    env, name, version = result["environment"], result["model"], result["version"]
    before = result["previous_version"]
    old_label = f"{env} now (v{before})" if before else f"{env} now (none)"
    new_label = f"{result['source']} (v{version})"
    if result["source"] in ENVIRONMENTS:
        source = f"the version {result['source']} runs now"
    else:
        source = f"the version the registry alias `{result['source']}` points to"
    undo = (
        f"reverting the merge commit deploys version {before} again"
        if before
        else f"this is the first version {env} gets"
    )
    parts = [
        f"## Promote {name} version {version} to {env}",
        f"Sets `{deploy_file(env)}` to version {version}, {source}. Merging deploys it to "
        f"{env} (smoke-tested, rolled back automatically on failure); {undo}.",
    ]
    contest = result["champion_challenger"]
    parts.append(comparison_markdown(contest, "Champion/challenger on the same test rows"))
    if contest["override_reason"]:
        parts.append(f"**Promoted over the refusal**, reason (registry tag `promotion_override."
                     f"{env}`): {contest['override_reason']}")  # fmt: skip
    parts += shadow_section(env, version)
    parts += comparison_tables(old, new, old_label, new_label)
    return "\n\n".join(parts)


def shadow_section(env, version):
    """The live comparison of `make shadow-report` (reports/shadow-ENV.md), when the version
    promoted is the one the environment's server scored in the shadow."""
    found = read_report(f"shadow-{env}")
    if not found or str(version) not in found.get("versions", {}).get("shadow", {}):
        return []
    return [(REPORTS_DIR / f"shadow-{env}.md").read_text().strip()]


def comparison_tables(old, new, old_label, new_label):
    """Markdown tables of two versions' lineage tags: metrics, fairness gaps, lineage.

    old and new are tag dicts (a version's `.tags`); either may be empty. Any verb that
    compares a new model with a deployed one (a promotion, a retraining) can show these.
    """
    rows_by_tag = comparison(old, new)
    # The task decides which metrics are errors or losses (lower wins): training/task.py.
    task = BY_NAME.get(new.get("task") or old.get("task"), BinaryClassification)
    parts = []
    for title, prefix in (("Metrics", "metric."), ("Fairness gaps (lower is fairer)", "fairness.")):
        rows = [
            (
                f"`{key.removeprefix(prefix)}`",
                _cell(row["old"]),
                _cell(row["new"]),
                _cell(row["change"], signed=True)
                + _verdict(row["change"], prefix == "fairness." or task.lower_wins(key)),
            )
            for key, row in rows_by_tag.items()
            if key.startswith(prefix)
        ]
        if rows:
            parts += [f"### {title}", markdown_table(["", old_label, new_label, "change"], rows)]
    lineage = [
        (label, f"`{old.get(tag, '-')}`", f"`{new.get(tag, '-')}`") for label, tag in LINEAGE
    ]
    return [*parts, "### Lineage", markdown_table(["", old_label, new_label], lineage)]


def _verdict(change, lower_is_better):
    if not change:
        return ""
    better = (change < 0) == lower_is_better
    return " (better)" if better else " (worse)"


def add_arguments(parser):
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        help="environment (staging) or registry alias (candidate) to take the version from",
    )
    parser.add_argument(
        "--to", required=True, choices=ENVIRONMENTS, help="environment whose deploy file to re-pin"
    )
    parser.add_argument("--digest", help="image digest (sha256:...) built for that version")
    parser.add_argument(
        "--live-rows",
        help="labelled live rows both versions also score (reports/monitor-rows.parquet, "
        "written by `make monitor`)",
    )
    parser.add_argument(
        "--override-reason",
        help="promote even if the version is worse than the production one; the reason is kept "
        "as a registry tag",
    )


run = promote
