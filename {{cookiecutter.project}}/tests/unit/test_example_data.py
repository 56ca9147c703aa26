"""The bundled CSV is exactly what the seeded generator makes, so anyone can rebuild it."""

from pathlib import Path

import pandas as pd

from {{ cookiecutter.package }}.data.example import make_churn_data, make_example


def test_generator_rebuilds_the_bundled_csv(tmp_path, params):
    rebuilt = tmp_path / "dataset.csv"
    make_example().to_csv(rebuilt, index=False)
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


def test_next_plan_follows_the_documented_directions():
    frame = make_example("multiclass_classification", rows=20000, seed=1)
    premium = frame["next_plan"].eq("premium")
    assert premium[frame["internet_service"] == "fiber"].mean() > premium.mean()
    fiber = frame[frame["internet_service"] == "fiber"]  # fiber users also call support more
    assert premium[fiber.index[fiber["support_calls"] >= 4]].mean() < premium[
        fiber.index[fiber["support_calls"] == 0]].mean()  # fmt: skip
    assert frame["next_plan"][frame["internet_service"] == "none"].eq("basic").mean() > 0.5


def test_data_usage_follows_the_documented_directions():
    frame = make_example("regression", rows=20000, seed=1)
    usage = frame["data_usage_gb"]
    assert (usage >= 0).all()
    by_service = usage.groupby(frame["internet_service"]).mean()
    assert by_service["fiber"] > by_service["dsl"] > by_service["none"]
    assert usage.corr(frame["monthly_charges"]) > 0.5
