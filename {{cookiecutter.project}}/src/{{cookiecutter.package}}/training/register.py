"""`register`: put the evaluated model in the MLflow registry with its lineage as tags.

Aliases, not stages (deprecated in MLflow 3): `register` points `candidate` at the new
version; deploys move `staging` and `production`.

Idempotent on lineage: when a version with the same git commit, data hash and params hash is
registered already, no new version is made and the message names that one. A clean git commit
pins the code, so the lineage alone decides. An `uncommitted` or `-dirty` commit does not, so
there the version must also come from the same training run: code changed without a commit
retrains (a new run) and registers, while `make pipeline` with nothing changed does not.
"""

import json

from ..config import RUN_FILE, CliError, load_params
from ..registry import client, lineage_tags, use_tracking_store
from ..reports import markdown_table, read_report, write_report
from .baseline import baseline_tags


def evaluated_results():
    """The reports `evaluate` wrote; refuse to register a model that did not pass them."""
    gates, metrics, fairness = (read_report(n) for n in ("gates", "metrics", "fairness"))
    if not (gates and metrics and fairness and RUN_FILE.exists()):
        raise CliError(
            "No evaluated model to register: run `make pipeline` (dvc repro) first, "
            "so that train and evaluate write models/run.json and reports/."
        )
    if not gates["passed"]:
        failed = ", ".join(g["name"] for g in gates["gates"] if not g["passed"])
        raise CliError(f"The model failed its gates ({failed}); nothing was registered.")
    return metrics, fairness


def register(args):
    import mlflow

    params = load_params()
    metrics, fairness = evaluated_results()
    run = json.loads(RUN_FILE.read_text())
    name = params["registry"]["model_name"]
    use_tracking_store(params)
    tags = lineage_tags(params, metrics, fairness)
    tags.update(baseline_tags(params))  # what the server's alerts compare with
    registry = client()
    existing = same_lineage(registry, name, tags, run["run_id"])
    if existing is None:
        tags.update(log_card(registry, run["run_id"]))
        version = mlflow.register_model(run["model_uri"], name, tags=tags).version
        registry.set_registered_model_alias(name, args.alias, version)
        message = f"Registered {name} version {version}; alias {args.alias} points to it."
    else:
        version, tags = existing.version, existing.tags
        message = already_registered(registry, name, version, tags, args.alias)
    result = {"name": name, "version": int(version), "alias": args.alias, "tags": tags,
              "new": existing is None}  # fmt: skip
    rows = sorted(tags.items())
    heading = "Registered" if existing is None else "Already registered:"
    markdown = f"## {heading} {name} version {version} as @{args.alias}\n\n" + markdown_table(
        ["lineage tag", "value"], rows
    )
    write_report("register", result, markdown)
    print(message)


LINEAGE = ("git_commit", "data_hash", "params_hash")
CARD_TAG = "model_card"  # the version's model card: runs:/RUN/card/card.html


def log_card(registry, run_id):
    """Log reports/card/ to the training run (artifact folder `card`) and return the tag that
    links the version to it; no tag when `make pipeline` wrote no card."""
    from .model_card import CARD_DIR

    if not (CARD_DIR / "card.html").exists():
        print(f"No model card in {CARD_DIR}: the version is registered without one.")
        return {}
    registry.log_artifacts(run_id, str(CARD_DIR), "card")
    return {CARD_TAG: f"runs:/{run_id}/card/card.html"}


def same_lineage(registry, name, tags, run_id):
    """The oldest version built from this commit, data and params (and run, when the commit
    does not pin the code), or None."""
    wanted = " and ".join(f"tags.{key} = '{tags[key]}'" for key in LINEAGE)
    found = registry.search_model_versions(f"name = '{name}' and {wanted}")
    pinned = not tags["git_commit"].endswith(("-dirty", "uncommitted"))
    found = [v for v in found if pinned or v.run_id == run_id]
    return min(found, key=lambda v: int(v.version), default=None)


def already_registered(registry, name, version, tags, alias):
    """Say which version has this lineage; the alias moves only if it points elsewhere."""
    from mlflow.exceptions import MlflowException

    try:
        before = str(registry.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        before = None
    lineage = ", ".join(f"{key} {tags[key][:12]}" for key in LINEAGE)
    said = f"{name} version {version} already has this lineage ({lineage}): no new version."
    if before == str(version):
        return f"{said} Alias {alias} stays on version {version}."
    registry.set_registered_model_alias(name, alias, version)
    return f"{said} Alias {alias} moved from {before or 'no version'} to version {version}."


def add_arguments(parser):
    parser.add_argument(
        "--alias",
        default="candidate",
        help="alias to point at the new version (default: candidate)",
    )


run = register
