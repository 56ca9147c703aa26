"""`train`: fit the scikit-learn pipeline on the training split and log it to MLflow."""

import json

import joblib
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..config import MODEL_FILE, RUN_FILE, columns, load_params, load_schema, params_hash
from ..data.contract import SERVING_CONTRACT, serving_contract
from ..data.loading import labels, load_dataset, split
from ..reports import write_report
from .task import for_params


def build_pipeline(task, model):
    """ColumnTransformer (impute, scale, one-hot) feeding the task's estimator of this type."""
    spec = task.spec
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    features = ColumnTransformer(
        [("numeric", numeric, spec.numeric), ("categorical", categorical, spec.categorical)],
        remainder="drop",
    )
    estimator = task.estimator(model)
    return Pipeline([("features", features), ("model", estimator)])


def train(args):
    del args
    params = load_params()
    spec = columns(params)
    train_set, _ = split(load_dataset(params), params)
    pipeline = build_pipeline(for_params(params, spec), params["model"])
    pipeline.fit(train_set[spec.features], labels(train_set, spec))
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, MODEL_FILE)
    contract = serving_contract(spec, load_schema())
    run = log_to_mlflow(pipeline, params, train_set[spec.features].head(5), contract)
    RUN_FILE.write_text(json.dumps(run, indent=2) + "\n")
    result = {"model": params["model"]["type"], "rows": len(train_set), **run}
    markdown = (
        f"## Training\n\n`{params['model']['type']}` fitted on {len(train_set)} rows; "
        f"MLflow run `{run['run_id']}`."
    )
    write_report("train", result, markdown)
    print(f"Trained {params['model']['type']} on {len(train_set)} rows: {MODEL_FILE}.")


def log_to_mlflow(pipeline, params, input_example, contract):
    """Log the fitted pipeline with its serving contract (MLmodel metadata), which a server
    reads back with `mlflow.models.get_model_info(uri).metadata`."""
    import mlflow

    from ..registry import use_tracking_store

    use_tracking_store(params)
    with mlflow.start_run() as active:
        mlflow.log_params(_flat({"model": params["model"], "data": params["data"]}))
        mlflow.set_tag("params_hash", params_hash(params))
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            input_example=input_example,
            metadata={SERVING_CONTRACT: contract},
            skops_trusted_types=types_to_trust(pipeline),
        )
    return {"run_id": active.info.run_id, "model_uri": info.model_uri}


def types_to_trust(pipeline):
    """skops, MLflow's safe format, loads only trusted types; we trust what we just trained."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))


def _flat(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def add_arguments(parser):
    del parser


run = train
