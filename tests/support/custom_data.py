"""A loan-default CSV unlike the example: other names, 0/1 labels, missing values, free text."""

import numpy as np
import pandas as pd


def make_loans(path, rows=3000, seed=7):
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, rows).round(2)
    amount = rng.uniform(1_000, 40_000, rows).round(-2)
    years = rng.integers(0, 30, rows)
    logit = -1.0 + 2.5 * (amount / income) - 0.06 * years
    frame = pd.DataFrame(
        {
            "application": [f"A-{n:05d}" for n in range(rows)],
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "income": np.where(rng.random(rows) < 0.08, np.nan, income),  # 8% not declared
            "loan_amount": amount,
            "employment_years": years,
            "purpose": rng.choice(["car", "home", "study", None], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "notes": [f"free text {n}" for n in rng.integers(0, 10**6, rows)],
            "defaulted": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    frame.to_csv(path, index=False)
    return frame
