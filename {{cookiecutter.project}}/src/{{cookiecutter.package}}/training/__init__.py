"""Training: fit, evaluate, the gates and fairness, model tests, `register`, `metrics-diff`."""
