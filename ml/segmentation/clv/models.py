"""BG/NBD (Fader, Hardie and Lee 2005) and Gamma-Gamma (Fader, Hardie and Lee 2005b) from their published
closed forms, fitted by unpenalised maximum likelihood on weighted rows.

Why not a library: lifetimes is unmaintained and pymc-marketing fits Bayesian models per customer row, while
this step fits on the summary compressed to its distinct rows, each with the number of customers that share
it (the weights), so the driver's memory grows with the distinct rows, not with the customers. The closed
forms are short; tests/python/test_clv_models.py checks parameters and predictions against lifetimes on its
published CDNOW data set.

Parameters are fitted on a log scale, so they stay positive, within [BOUND_LOW, BOUND_HIGH] (q of
Gamma-Gamma above 1, so that its mean exists). SPEC 11's boundary case - one year of history, where dropout
is not identifiable and the likelihood does not (or barely) fall as a -> 0 - is detected with the profile
likelihood of a: BG/NBD is refitted with a at its lower bound, and when the likelihood-ratio statistic
2 (LL_fit - LL_bound) is below 3.84 (chi-square, 1 degree of freedom, 5%), the data cannot tell a from 0.
The fit then stops at the bound and says so (at_boundary); every prediction stays finite (P(alive) is then
about 1). On both UCI files the statistic is about 670: the fit is interior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1

BOUND_LOW = 1e-6
BOUND_HIGH = 1e6
DAYS_PER_MONTH = 30
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
BG_NBD = ("r", "alpha", "a", "b")
IDENTIFIABLE_LR = 3.841  # chi-square, 1 degree of freedom, 95%
GAMMA_GAMMA = ("p", "q", "v")


@dataclass(frozen=True)
class Fit:
    model: str  # bg_nbd | gamma_gamma
    params: dict[str, float]
    log_likelihood: float  # summed over every customer (weights included)
    customers: int
    at_boundary: tuple[str, ...] = field(default_factory=tuple)  # the parameters that ended on a bound
    message: str = ""

    def values(self, names: tuple[str, ...]) -> tuple[float, ...]:
        return tuple(self.params[name] for name in names)

    def note(self) -> str:
        if not self.at_boundary:
            return f"converged inside the bounds ({self.message})"
        bounds = ", ".join(f"{name} = {self.params[name]:.3g}" for name in self.at_boundary)
        return f"stopped at the boundary: {bounds} ({self.message})"


# --------------------------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(params: tuple[float, ...], x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-row log-likelihood of (frequency_repeat x, recency t_x, age T)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + t)
    # The second term exists only with a repeat purchase; -inf elsewhere adds exp(-inf) = 0.
    a4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    peak = np.maximum(a3, a4)
    return a1 + a2 + peak + np.log(np.exp(a3 - peak) + np.exp(a4 - peak))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, t: np.ndarray, weights: np.ndarray) -> Fit:
    """Maximum likelihood on weighted rows (a row stands for `weights` customers with equal x, t_x, T)."""
    x, t_x, t, weights = (np.asarray(v, dtype=float) for v in (x, t_x, t, weights))
    total = weights.sum()
    start = np.log([1.0, max(1.0, float(np.average(t, weights=weights))), 1.0, 1.0])

    def objective(theta: np.ndarray) -> float:
        value = -np.dot(weights, bgnbd_log_likelihood(tuple(np.exp(theta)), x, t_x, t)) / total
        return float(value) if np.isfinite(value) else 1e300

    bounds = [(BOUND_LOW, BOUND_HIGH)] * 4
    fit = _fit("bg_nbd", BG_NBD, objective, start, bounds, total)
    if "a" in fit.at_boundary:
        return fit
    # Profile likelihood of a: the same model with a at its lower bound (no dropout to speak of).
    pinned = _fit("bg_nbd", BG_NBD, objective, np.log(list(fit.params.values())),
                  [*bounds[:2], (BOUND_LOW, BOUND_LOW * (1 + 1e-9)), bounds[3]], total)
    statistic = 2 * (fit.log_likelihood - pinned.log_likelihood)
    if statistic >= IDENTIFIABLE_LR:
        return fit
    return Fit(
        model=fit.model,
        params=pinned.params,
        log_likelihood=pinned.log_likelihood,
        customers=fit.customers,
        at_boundary=("a",),
        message=(f"dropout is not identifiable: the likelihood ratio against a at its bound is {statistic:.2f} < "
                 f"{IDENTIFIABLE_LR} (free fit a = {fit.params['a']:.3g})"),
    )


def p_alive(params: tuple[float, ...], x: np.ndarray, t_x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(the customer has not dropped out | x, t_x, T); 1 for customers without a repeat purchase."""
    r, alpha, a, b = params
    log_odds_dead = np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * np.log((alpha + t) / (alpha + t_x))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def expected_purchases(
    params: tuple[float, ...], horizon: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """E[repeat purchase days in (T, T + horizon] | x, t_x, T] (the BG/NBD conditional expectation)."""
    r, alpha, a, b = params
    if abs(a - 1.0) < 1e-9:  # the closed form divides by a - 1; the expectation is continuous there
        a = 1.0 + 1e-9
    horizon = np.asarray(horizon, dtype=float)
    big_a, big_b, big_c = r + x, b + x, a + b + x - 1
    z = horizon / (alpha + t + horizon)
    with np.errstate(all="ignore"):
        hyp = hyp2f1(big_a, big_b, big_c, z)
        # Euler's transformation where the series misbehaves (large arguments near z = 1).
        euler = hyp2f1(big_c - big_a, big_c - big_b, big_c, z) * (1 - z) ** (big_c - big_a - big_b)
        hyp = np.where(np.isfinite(hyp), hyp, euler)
        first = (a + b + x - 1) / (a - 1)
        second = 1 - hyp * ((alpha + t) / (alpha + t + horizon)) ** (r + x)
        odds = np.where(
            x > 0, (a / (b + np.maximum(x, 1) - 1)) * ((alpha + t) / (alpha + t_x)) ** (r + x), 0.0
        )
    return np.where(horizon > 0, first * second / (1 + odds), 0.0)


# ---------------------------------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_log_likelihood(params: tuple[float, ...], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per-row log-likelihood of a customer's x repeat purchases with mean value m."""
    p, q, v = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray, weights: np.ndarray) -> Fit:
    x, m, weights = (np.asarray(v, dtype=float) for v in (x, m, weights))
    total = weights.sum()
    start = np.log([1.0, 2.0, max(1.0, float(np.average(m, weights=weights)))])

    def objective(theta: np.ndarray) -> float:
        value = -np.dot(weights, gamma_gamma_log_likelihood(tuple(np.exp(theta)), x, m)) / total
        return float(value) if np.isfinite(value) else 1e300

    bounds = [(BOUND_LOW, BOUND_HIGH), (1.0 + BOUND_LOW, BOUND_HIGH), (BOUND_LOW, BOUND_HIGH)]
    return _fit("gamma_gamma", GAMMA_GAMMA, objective, start, bounds, total)


def expected_average_value(
    params: tuple[float, ...], x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """The Gamma-Gamma conditional mean of a purchase day's value; the population mean p v / (q - 1) for
    customers without a usable repeat value (no repeat day, or a repeat value of 0 or less)."""
    p, q, v = params
    population = p * v / (q - 1)
    usable = (x > 0) & (m > 0)
    safe_m = np.where(usable, m, 1.0)
    conditional = p * (v + x * safe_m) / (p * x + q - 1)
    return np.where(usable, conditional, population)


def clv(
    bgnbd: tuple[float, ...], value: np.ndarray, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """SPEC 11: sum over m = 1..12 of the expected purchase days in (30(m-1), 30m] x value / 1.01^m."""
    total = np.zeros(np.shape(x), dtype=float)
    previous = np.zeros(np.shape(x), dtype=float)
    for month in range(1, CLV_MONTHS + 1):
        upto = expected_purchases(bgnbd, DAYS_PER_MONTH * month, x, t_x, t)
        total += (upto - previous) * value / (1 + MONTHLY_DISCOUNT) ** month
        previous = upto
    return total


# --------------------------------------------------------------------------------------------- fitting


def _fit(model, names, objective, start, bounds, customers) -> Fit:  # noqa: ANN001 - small private helper
    log_bounds = [(math.log(low), math.log(high)) for low, high in bounds]
    start = np.clip(start, [lo for lo, _ in log_bounds], [hi for _, hi in log_bounds])
    result = minimize(objective, start, method="L-BFGS-B", bounds=log_bounds,
                      options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
    theta = np.asarray(result.x, dtype=float)
    params = {name: float(np.exp(value)) for name, value in zip(names, theta, strict=True)}
    at_bound = tuple(
        name
        for name, value, (low, high) in zip(names, theta, log_bounds, strict=True)
        if value <= low + 1e-3 or value >= high - 1e-3
    )
    return Fit(
        model=model,
        params=params,
        log_likelihood=float(-result.fun * customers),
        customers=int(round(customers)),
        at_boundary=at_bound,
        message=str(result.message),
    )
