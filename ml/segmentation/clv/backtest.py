"""SPEC 11's forward backtest, from the calibration customers compressed to distinct rows.

Every customer of the calibration date gets a prediction of their repeat purchase days in the holdout
[calibration date, as-of date) from BG/NBD fitted at the calibration date, and from the baseline
frequency_repeat / T x holdout days. Both are functions of (x, t_x, T), so the customers sharing a row of the
histogram share a prediction, and every metric is computed from the rows and their counts:
- customers, the sums of actual and predicted purchase days, the mean absolute error per customer;
- Spearman's correlation: Pearson's on average ranks (ties share the mean of their ranks);
- top 10% capture: the share of all actual holdout purchase days made by the 10% of customers with the
  highest predictions. Customers tied at the cut are indistinguishable by prediction, so the cut takes the
  same fraction of each of them (the expected value of breaking the tie at random).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.clv import models

TOP_SHARE = 0.10
CALIBRATION_TOP_FREQUENCY = 7  # the calibration plot's last group: 7 or more repeat purchase days


@dataclass(frozen=True)
class Metrics:
    method: str  # bg_nbd | baseline
    customers: int
    actual: float
    predicted: float
    mae: float
    spearman: float
    top10_capture: float

    def describe(self) -> str:
        return (
            f"{self.method:<9} customers {self.customers:,}  actual {self.actual:,.0f}  predicted "
            f"{self.predicted:,.1f}  MAE {self.mae:.4f}  Spearman {self.spearman:.4f}  "
            f"top-10% capture {self.top10_capture:.4f}"
        )


def predictions(histogram: pd.DataFrame, fit: models.Fit, holdout_days: int) -> dict[str, np.ndarray]:
    """Each histogram row's predicted holdout purchase days, by the model and by the baseline."""
    x = histogram["frequency_repeat"].to_numpy(dtype=float)
    t_x = histogram["recency_period"].to_numpy(dtype=float)
    t = histogram["T"].to_numpy(dtype=float)
    return {
        "bg_nbd": models.expected_purchases(fit.values(models.BG_NBD), holdout_days, x, t_x, t),
        "baseline": x / t * holdout_days,
    }


def calibration_curve(histogram: pd.DataFrame, predicted: dict[str, np.ndarray]) -> list[tuple]:
    """The usual calibration plot's points: per calibration frequency (7 and more together), the customers
    and their mean actual and mean predicted holdout purchase days, for each method."""
    group = np.minimum(histogram["frequency_repeat"].to_numpy(), CALIBRATION_TOP_FREQUENCY)
    weights = histogram["count"].to_numpy(dtype=float)
    actual = histogram["holdout_purchase_days"].to_numpy(dtype=float)
    points = []
    for method, values in predicted.items():
        for frequency in sorted(set(group.tolist())):
            mask = group == frequency
            count = weights[mask].sum()
            points.append(
                (method, int(frequency), int(count), float(np.dot(weights[mask], actual[mask]) / count),
                 float(np.dot(weights[mask], values[mask]) / count))
            )
    return points


def backtest_metrics(histogram: pd.DataFrame, fit: models.Fit, holdout_days: int) -> list[Metrics]:
    """histogram: frequency_repeat, recency_period, T, holdout_purchase_days, count."""
    actual = histogram["holdout_purchase_days"].to_numpy(dtype=float)
    weights = histogram["count"].to_numpy(dtype=float)
    predicted = predictions(histogram, fit, holdout_days)
    return [metrics(method, values, actual, weights) for method, values in predicted.items()]


def metrics(method: str, predicted: np.ndarray, actual: np.ndarray, weights: np.ndarray) -> Metrics:
    customers = weights.sum()
    return Metrics(
        method=method,
        customers=int(round(customers)),
        actual=float(np.dot(weights, actual)),
        predicted=float(np.dot(weights, predicted)),
        mae=float(np.dot(weights, np.abs(predicted - actual)) / customers),
        spearman=weighted_spearman(predicted, actual, weights),
        top10_capture=top_share_capture(predicted, actual, weights, TOP_SHARE),
    )


def average_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each row's rank among all customers (1-based), ties sharing the mean of the ranks they span."""
    frame = pd.DataFrame({"value": values, "weight": weights})
    per_value = frame.groupby("value", sort=True)["weight"].sum()
    before = per_value.cumsum() - per_value
    mean_rank = before + (per_value + 1) / 2
    return frame["value"].map(mean_rank).to_numpy(dtype=float)


def weighted_spearman(predicted: np.ndarray, actual: np.ndarray, weights: np.ndarray) -> float:
    rp, ra = average_ranks(predicted, weights), average_ranks(actual, weights)
    total = weights.sum()
    mp, ma = np.dot(weights, rp) / total, np.dot(weights, ra) / total
    cov = np.dot(weights, (rp - mp) * (ra - ma))
    var = math.sqrt(np.dot(weights, (rp - mp) ** 2) * np.dot(weights, (ra - ma) ** 2))
    return float(cov / var) if var > 0 else float("nan")


def top_share_capture(predicted: np.ndarray, actual: np.ndarray, weights: np.ndarray, share: float) -> float:
    total_actual = np.dot(weights, actual)
    if total_actual <= 0:
        return float("nan")
    frame = pd.DataFrame({"predicted": predicted, "actual_days": weights * actual, "weight": weights})
    per_value = frame.groupby("predicted", sort=True)[["actual_days", "weight"]].sum().iloc[::-1]
    budget = share * weights.sum()
    captured = 0.0
    for actual_days, count in per_value.itertuples(index=False):
        if budget <= 0:
            break
        taken = min(count, budget)
        captured += actual_days * taken / count
        budget -= taken
    return float(captured / total_actual)
