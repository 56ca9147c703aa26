"""The bundled example data: synthetic telecom customers made by a seeded generator.

No real customer is in it. One customer table, three targets, one per task:

- binary_classification, `churned` (yes/no): churn follows a logistic model with known
  directions (longer tenure and a yearly contract lower churn; higher charges and more
  support calls raise it);
- multiclass_classification, `next_plan` (basic/standard/premium), the plan a customer moves
  to at renewal: a multinomial logistic model (fiber and higher charges lean to premium, no
  internet and low charges to basic, more support calls away from premium);
- regression, `data_usage_gb`, last month's data use: set by the internet service, rising with
  the charges (bigger bundles) and a little with tenure, lower with support calls.

So the directional tests in params.yaml have something true to check. The sensitive columns
(gender, age_group) do not enter any target directly; older customers stay longer, so age
groups still differ a little, as they would in real data.
"""

import numpy as np
import pandas as pd

SEED = 20261125
ROWS = 5000
TASK = {{ cookiecutter.task | tojson }}

CONTRACTS = ["month-to-month", "one-year", "two-year"]
INTERNET = ["dsl", "fiber", "none"]
PAYMENTS = ["bank-transfer", "credit-card", "electronic-check", "mailed-check"]
AGE_GROUPS = ["18-29", "30-44", "45-59", "60+"]
PLANS = ["basic", "standard", "premium"]


def make_example(task=TASK, rows=ROWS, seed=SEED):
    """The example table of a task: the customers with that task's target as last column."""
    frame = make_churn_data(rows, seed)
    if task == "binary_classification":
        return frame
    rng = np.random.default_rng([seed, 1 if task == "multiclass_classification" else 2])
    features = frame.drop(columns=["churned"])
    if task == "multiclass_classification":
        return features.assign(next_plan=_next_plan(rng, features))
    return features.assign(data_usage_gb=_data_usage(rng, features))


def make_churn_data(rows=ROWS, seed=SEED):
    rng = np.random.default_rng(seed)
    age_group = rng.choice(AGE_GROUPS, size=rows, p=[0.22, 0.33, 0.28, 0.17])
    older = np.isin(age_group, ["45-59", "60+"])
    tenure = np.clip(rng.gamma(2.0, 12.0 + 8.0 * older), 0, 72).round().astype(int)
    contract = rng.choice(CONTRACTS, size=rows, p=[0.55, 0.25, 0.20])
    internet = rng.choice(INTERNET, size=rows, p=[0.35, 0.45, 0.20])
    base_charge = np.select([internet == "fiber", internet == "dsl"], [75.0, 50.0], 22.0)
    monthly = np.round(base_charge + rng.normal(0, 12, rows).clip(-18, 40), 2)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, rows), 2)
    total = np.where(tenure == 0, np.nan, total)  # new customers have no bill yet
    support_calls = rng.poisson(1.2 + 1.5 * (internet == "fiber"), rows)
    churned = _churn(rng, tenure, contract, monthly, support_calls, internet)
    return pd.DataFrame(
        {
            "customer_id": [f"C{index:06d}" for index in range(1, rows + 1)],
            "gender": rng.choice(["female", "male"], size=rows),
            "age_group": age_group,
            "tenure_months": tenure,
            "contract": contract,
            "internet_service": internet,
            "payment_method": rng.choice(PAYMENTS, size=rows, p=[0.25, 0.3, 0.3, 0.15]),
            "paperless_billing": rng.choice(["yes", "no"], size=rows, p=[0.6, 0.4]),
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "churned": np.where(churned, "yes", "no"),
        }
    )


def _churn(rng, tenure, contract, monthly, support_calls, internet):
    logit = (
        -0.6
        - 0.055 * tenure
        + 0.03 * (monthly - 60)
        + 0.45 * support_calls
        - np.select([contract == "one-year", contract == "two-year"], [1.2, 2.4], 0.0)
        + 0.3 * (internet == "fiber")
    )
    return rng.random(len(tenure)) < 1 / (1 + np.exp(-logit))


def _next_plan(rng, frame):
    monthly, calls = frame["monthly_charges"].to_numpy(), frame["support_calls"].to_numpy()
    internet = frame["internet_service"].to_numpy()
    logits = np.column_stack(
        [
            1.0 - 0.16 * (monthly - 45) + 2.0 * (internet == "none"),  # basic
            np.zeros(len(frame)),  # standard
            -0.5 + 0.16 * (monthly - 70) + 1.5 * (internet == "fiber") - 0.8 * calls,  # premium
        ]
    )
    chances = np.exp(logits - logits.max(axis=1, keepdims=True))
    chances /= chances.sum(axis=1, keepdims=True)
    drawn = (rng.random(len(frame))[:, None] > chances.cumsum(axis=1)).sum(axis=1)
    return np.array(PLANS)[np.minimum(drawn, len(PLANS) - 1)]


def _data_usage(rng, frame):
    internet = frame["internet_service"].to_numpy()
    base = np.select([internet == "fiber", internet == "dsl"], [160.0, 70.0], 8.0)
    usage = (
        base
        + 2.5 * (frame["monthly_charges"].to_numpy() - 50)
        + 0.4 * frame["tenure_months"].to_numpy()
        - 6.0 * frame["support_calls"].to_numpy()
        + rng.normal(0, 20, len(frame))
    )
    return np.round(np.clip(usage, 0, None), 1)


if __name__ == "__main__":
    make_example().to_csv("data/raw/dataset.csv", index=False)
