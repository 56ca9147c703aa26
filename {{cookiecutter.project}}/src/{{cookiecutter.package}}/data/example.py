"""The bundled example data: a synthetic churn table made by a seeded generator.

No real customer is in it. Churn follows a logistic model with known directions
(longer tenure and a yearly contract lower churn; higher charges and more support
calls raise it), so the directional tests in params.yaml have something true to check.
"""

import numpy as np
import pandas as pd

SEED = 20261125
ROWS = 5000

CONTRACTS = ["month-to-month", "one-year", "two-year"]
INTERNET = ["dsl", "fiber", "none"]
PAYMENTS = ["bank-transfer", "credit-card", "electronic-check", "mailed-check"]
AGE_GROUPS = ["18-29", "30-44", "45-59", "60+"]


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


if __name__ == "__main__":
    make_churn_data().to_csv("data/raw/dataset.csv", index=False)
