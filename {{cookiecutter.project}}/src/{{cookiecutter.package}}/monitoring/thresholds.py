"""Thresholds that know the window size: a column's distance threshold is raised to what
sampling noise alone reaches, so that a column that did not change is flagged at most
`drift.false_alarm_rate` of the time, however small the window.

A distance between two samples of one distribution is not 0: it shrinks as the samples grow.
Jensen-Shannon on 20 bins is about 0.16 between 100 rows and their own population, above
the usual threshold of 0.1. So for each column compared as categories (categoricals, and
numeric columns on quantile bins), the reference's shares are taken as the population, and
both sides are drawn from it again and again at their real sizes (multinomial draws of the
counts: microseconds, whatever the rows). The (1 - rate) quantile of the distances drawn is
the noise threshold; a column uses the larger of it and the configured threshold. Large
windows keep the configured threshold (noise is far below it): nothing changes for them.

The distances mirror Evidently's own (Jensen-Shannon, PSI, Kullback-Leibler, Hellinger on
categories), which tests/unit/test_drift.py checks against Evidently. Other methods keep the
configured threshold: p-value tests (ks, chisquare, z, ...) already account for the window
size, and distances on raw values (wasserstein) are not simulated.
"""

import math

import numpy as np
import pandas as pd
from scipy.special import rel_entr

MIN_DRAWS = 2000  # draws per column; more for small rates, so the quantile stays stable


def _shares(counts):
    """Evidently's shares: it drops missing values, then divides each value's count."""
    present = counts[:, 1:]
    return present / np.maximum(present.sum(axis=1, keepdims=True), 1)


def _present(reference, current):
    """Evidently compares the values present on either side; absent ones are no key."""
    return (reference > 0) | (current > 0)


def _filled(shares, keys):
    """Evidently's zero filling for PSI and KL: a tiny share instead of 0, within the keys."""
    smallest = np.where(shares > 0, shares, np.inf).min(axis=1, keepdims=True)
    fill = np.where(smallest <= 1e-4, smallest / 1e6, 1e-4)
    return np.where(keys & (shares == 0), fill, shares)


def _jensenshannon(reference, current):
    """scipy.spatial.distance.jensenshannon (what Evidently calls), row by row, written out:
    importing scipy.spatial takes half a second of the `drift` process's start."""
    ref, cur = _shares(reference), _shares(current)
    ref, cur = ref / ref.sum(axis=1, keepdims=True), cur / cur.sum(axis=1, keepdims=True)
    middle = (ref + cur) / 2.0
    entropy = rel_entr(ref, middle).sum(axis=1) + rel_entr(cur, middle).sum(axis=1)
    return np.sqrt(entropy / 2.0)


def _psi(reference, current):
    ref, cur = _shares(reference), _shares(current)
    keys = _present(ref, cur)
    ref, cur = np.where(keys, _filled(ref, keys), 1.0), np.where(keys, _filled(cur, keys), 1.0)
    return ((ref - cur) * np.log(ref / cur)).sum(axis=1)


def _kl_div(reference, current):
    ref, cur = _shares(reference), _shares(current)
    keys = _present(ref, cur)
    ref, cur = _filled(ref, keys), _filled(cur, keys)
    ref, cur = ref / ref.sum(axis=1, keepdims=True), cur / cur.sum(axis=1, keepdims=True)
    return rel_entr(ref, cur).sum(axis=1)  # scipy.stats.entropy, row by row


def _hellinger(reference, current):
    ref, cur = _shares(reference), _shares(current)
    return np.sqrt(1 - np.clip(np.sqrt(ref * cur).sum(axis=1), 0, 1))


DISTANCES = {
    "jensenshannon": _jensenshannon,
    "psi": _psi,
    "kl_div": _kl_div,
    "hellinger": _hellinger,
}


def counts(series):
    """Rows per category of a categorical series; slot 0 counts the missing values."""
    return np.bincount(series.cat.codes.to_numpy() + 1, minlength=len(series.cat.categories) + 1)


def distance(method, reference, current):
    """The distance Evidently computes between two categorical series (for the tests)."""
    return float(DISTANCES[method](counts(reference)[None, :], counts(current)[None, :])[0])


def noise_threshold(method, reference_counts, current_rows, rate, rng):
    """The (1 - rate) quantile of the distance between two samples of the reference's own
    distribution, at the sizes compared: what chance alone reaches that often."""
    population = reference_counts / reference_counts.sum()
    draws = max(MIN_DRAWS, math.ceil(20 / rate))
    reference = rng.multinomial(int(reference_counts.sum()), population, size=draws)
    current = rng.multinomial(int(current_rows), population, size=draws)
    return float(np.nanquantile(DISTANCES[method](reference, current), 1 - rate))


def window_thresholds(ref, cur, methods, configured, rate, seed):
    """{column: (threshold used, noise threshold or None)} for the prepared frames."""
    rng = np.random.default_rng(seed)
    found = {}
    for name in ref.columns:
        method, threshold = methods[name], configured[name]
        if method not in DISTANCES or not isinstance(ref[name].dtype, pd.CategoricalDtype):
            found[name] = (threshold, None)
            continue
        noise = noise_threshold(method, counts(ref[name]), len(cur), rate, rng)
        found[name] = (max(threshold, noise), noise)
    return found
