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


def make_tickets(path, rows=3000, seed=11):
    """Support tickets routed to one of three teams (multiclass): text labels, missing values."""
    rng = np.random.default_rng(seed)
    words = rng.integers(5, 400, rows)
    attachments = rng.poisson(0.6, rows)
    product = rng.choice(["app", "router", "invoice", None], rows, p=[0.4, 0.3, 0.25, 0.05])
    logits = np.column_stack(
        [
            2.0 * (product == "invoice") - 0.004 * words,  # billing
            1.8 * (product == "router") + 0.6 * attachments,  # hardware
            1.5 * (product == "app") + 0.004 * words - 1.0,  # software
        ]
    )
    chances = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    team = (rng.random(rows)[:, None] > chances.cumsum(axis=1)).sum(axis=1).clip(0, 2)
    frame = pd.DataFrame(
        {
            "ticket": [f"T-{n:06d}" for n in range(rows)],
            "country": rng.choice(["de", "fr", "it", "es"], rows),
            "words": np.where(rng.random(rows) < 0.05, np.nan, words),
            "attachments": attachments,
            "product": product,
            "team": np.array(["billing", "hardware", "software"])[team],
        }
    )
    frame.to_csv(path, index=False)
    return frame


def make_deliveries(path, rows=3000, seed=13):
    """Delivery durations in minutes (regression): a numeric target, missing values."""
    rng = np.random.default_rng(seed)
    distance = rng.gamma(2.0, 3.0, rows).round(2)
    parcels = rng.integers(1, 8, rows)
    vehicle = rng.choice(["bike", "van", "car"], rows)
    minutes = (
        12
        + 4.5 * distance
        + 1.5 * parcels
        + np.where(vehicle == "bike", 6.0, 0.0)
        + rng.normal(0, 4, rows)
    ).round(1)
    frame = pd.DataFrame(
        {
            "order": [f"O-{n:06d}" for n in range(rows)],
            "driver_gender": rng.choice(["f", "m", "x"], rows, p=[0.45, 0.5, 0.05]),
            "distance_km": np.where(rng.random(rows) < 0.05, np.nan, distance),
            "parcels": parcels,
            "vehicle": vehicle,
            "minutes": minutes,
        }
    )
    frame.to_csv(path, index=False)
    return frame
