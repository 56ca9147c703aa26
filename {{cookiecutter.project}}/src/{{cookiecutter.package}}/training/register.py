"""`register`: put the evaluated model in the MLflow registry with its lineage as tags.

Aliases, not stages (deprecated in MLflow 3): `register` points `candidate` at the new
version; deploys move `staging` and `production`.
"""

import json

from ..config import RUN_FILE, CliError, load_params
from ..registry import client, lineage_tags, use_tracking_store
from ..reports import markdown_table, read_report, write_report


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
    version = mlflow.register_model(run["model_uri"], name, tags=tags).version
    client().set_registered_model_alias(name, args.alias, version)
    result = {"name": name, "version": int(version), "alias": args.alias, "tags": tags}
    rows = sorted(tags.items())
    markdown = f"## Registered {name} version {version} as @{args.alias}\n\n" + markdown_table(
        ["lineage tag", "value"], rows
    )
    write_report("register", result, markdown)
    print(f"Registered {name} version {version}; alias {args.alias} points to it.")


def add_arguments(parser):
    parser.add_argument(
        "--alias",
        default="candidate",
        help="alias to point at the new version (default: candidate)",
    )


run = register
