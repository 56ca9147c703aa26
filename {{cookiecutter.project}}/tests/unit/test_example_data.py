"""The bundled CSV is exactly what the seeded generator makes, so anyone can rebuild it."""

from pathlib import Path

import pandas as pd

from {{ cookiecutter.package }}.data.example import make_churn_data


def test_generator_rebuilds_the_bundled_csv(tmp_path, params):
    rebuilt = tmp_path / "dataset.csv"
    make_churn_data().to_csv(rebuilt, index=False)
    assert rebuilt.read_bytes() == Path(params["data"]["path"]).read_bytes()


def test_churn_follows_the_documented_directions():
    frame = make_churn_data(rows=20000, seed=1)
    churn = frame["churned"].eq("yes")
    assert churn[frame["tenure_months"] > 36].mean() < churn[frame["tenure_months"] < 12].mean()
    assert (
        churn[frame["contract"] == "two-year"].mean()
        < churn[frame["contract"] == "month-to-month"].mean()
    )
    assert (
        pd.api.types.is_float_dtype(frame["total_charges"]) and frame["total_charges"].isna().any()
    )
