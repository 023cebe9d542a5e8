"""Choosing k (SPEC 9): a sweep over k = 2..10 records cost and silhouette, then one of three rules.

- fixed:      the configured k.
- silhouette: the k with the highest mean silhouette (ties: the smaller k).
- elbow:      the knee of the cost curve, found as the point farthest from the straight line joining the
              first and last points of the curve after both axes are normalised to [0, 1] (the "kneedle"
              idea without smoothing). Ties: the smaller k. A flat curve gives the smallest k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame

from segmentation.clustering.train import FittedClustering, fit_clustering
from segmentation.errors import SegmentationError


@dataclass(frozen=True)
class SweepPoint:
    k: int
    cost: float
    silhouette: float | None
    centers: int  # distinct centres the estimator returned (can be < k on degenerate data)


def sweep(
    scaled: DataFrame, algorithm: str, ks: Sequence[int], seed: int, max_iter: int, tol: float
) -> dict[int, FittedClustering]:
    """Fit every k on the same cached features. The fitted models are kept (they are tiny) so the
    chosen one is reused instead of being refitted.

    The fits run side by side, as many as the cluster has cores per partition of the features: the
    per-customer features are small and often one partition, so one fit at a time leaves cores idle. Each
    fit reads the same partitions with its own seed, so the results do not depend on the concurrency."""
    with ThreadPoolExecutor(max_workers=sweep_concurrency(scaled, len(ks)), thread_name_prefix="k-sweep") as pool:
        fitted = pool.map(lambda k: fit_clustering(scaled, algorithm, k, seed, max_iter, tol), ks)
        return dict(zip(ks, fitted, strict=True))


def sweep_concurrency(scaled: DataFrame, fits: int) -> int:
    """How many of `fits` fits keep the cores busy: the cluster's default parallelism over the features'
    partitions, at least one and at most one per fit."""
    cores = scaled.sparkSession.sparkContext.defaultParallelism
    return max(1, min(fits, cores // max(1, scaled.rdd.getNumPartitions())))


def points_of(fits: dict[int, FittedClustering]) -> list[SweepPoint]:
    return [SweepPoint(k, f.cost, f.silhouette, len(f.centers)) for k, f in sorted(fits.items())]


def _usable(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    # A k where the estimator could not find k clusters is not a real candidate. Sorted by k: the elbow
    # needs the curve in order.
    return sorted((p for p in points if p.centers == p.k), key=lambda p: p.k)


def choose_by_silhouette(points: Sequence[SweepPoint]) -> int:
    scored = [p for p in _usable(points) if p.silhouette is not None]
    if not scored:
        raise SegmentationError("no k in the sweep has a defined silhouette; the customers are not separable")
    return min(scored, key=lambda p: (-p.silhouette, p.k)).k


def knee_index(xs: Sequence[float], ys: Sequence[float]) -> int:
    """Index of the point farthest from the chord joining the first and last points, on normalised axes."""
    if len(xs) < 3:
        return 0
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 - y0 <= 0 or x1 - x0 <= 0:
        return 0
    nx = [(x - x0) / (x1 - x0) for x in xs]
    ny = [(y - y0) / (y1 - y0) for y in ys]
    ax, ay, bx, by = nx[0], ny[0], nx[-1], ny[-1]
    length = math.hypot(bx - ax, by - ay)
    # Perpendicular distance of each point to the chord (cross product / chord length).
    distances = [
        abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length for px, py in zip(nx, ny, strict=True)
    ]
    best = max(distances)
    return distances.index(best)  # first maximum = the smaller k on ties


def choose_by_elbow(points: Sequence[SweepPoint]) -> int:
    usable = _usable(points)
    if not usable:
        raise SegmentationError("no k in the sweep produced k clusters; the customers are not separable")
    return usable[knee_index([p.k for p in usable], [p.cost for p in usable])].k


def choose_k(rule: str, points: Sequence[SweepPoint], fixed_k: int | None = None) -> int:
    if rule == "fixed":
        if fixed_k is None:
            raise SegmentationError("k rule 'fixed' needs a k")
        return fixed_k
    if rule == "silhouette":
        return choose_by_silhouette(points)
    if rule == "elbow":
        return choose_by_elbow(points)
    raise SegmentationError(f"unknown k rule {rule!r}")
