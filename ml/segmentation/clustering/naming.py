"""Deterministic cluster names from centroid profiles (SPEC 9).

All comparisons use the scaled centroid (z-scores of log1p(R), log1p(F), log1p(M) over the clustered
population), so "high" and "low" mean relative to the customers actually clustered.
  activity a = (z_frequency + z_monetary) / 2     recency r = z_recency (high = long since last purchase)

k = 4 (the original analysis' four names), assigned greedily:
  1. VIP       = the highest activity (buys often, spends a lot); ties: more recent, then lower cluster_id.
  2. Churned   = of the rest, the highest recency (long time no purchase); ties: lower activity.
  3. New       = of the last two, the higher (-r - a): more recent and less active (bought recently, few
                 times, low spend).
  4. Potential = the remaining one (buys now and then, could spend more).

Other k: the highest-activity cluster is VIP; every other cluster is recent (r < 0.5) or lapsed:
  recent, a >= 0.5          -> Loyal
  recent, -0.5 <= a < 0.5   -> Potential
  recent, a < -0.5          -> New
  lapsed, the most lapsed   -> Churned (no purchase for the longest time)
  lapsed, the others        -> At Risk (lapsing, but less than the churned)
so an "At Risk" cluster is always more recent than the "Churned" one (before, an active but very lapsed
cluster could be called At Risk while a less lapsed one was Churned). When several clusters share a name
they are numbered in cluster_id order (cluster ids follow monetary descending, so "Loyal 1" spends more than
"Loyal 2"). Names are therefore distinct for every k.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from segmentation.clustering.train import ClusterProfile

SPEC_K4_NAMES = ("VIP", "Potential", "New", "Churned")


def _activity(p: ClusterProfile) -> float:
    return (p.scaled_frequency + p.scaled_monetary) / 2.0


def _names_k4(profiles: Sequence[ClusterProfile]) -> dict[int, str]:
    remaining = list(profiles)
    vip = min(remaining, key=lambda p: (-_activity(p), p.scaled_recency, p.cluster_id))
    remaining.remove(vip)
    churned = min(remaining, key=lambda p: (-p.scaled_recency, _activity(p), p.cluster_id))
    remaining.remove(churned)
    new = min(remaining, key=lambda p: (p.scaled_recency + _activity(p), p.cluster_id))
    remaining.remove(new)
    (potential,) = remaining
    return {
        vip.cluster_id: "VIP",
        churned.cluster_id: "Churned",
        new.cluster_id: "New",
        potential.cluster_id: "Potential",
    }


LAPSED_Z = 0.5  # a centroid this many standard deviations above the mean log recency has lapsed


def _recent_qualifier(p: ClusterProfile) -> str:
    a = _activity(p)
    if a >= 0.5:
        return "Loyal"
    return "Potential" if a >= -0.5 else "New"


def name_clusters(profiles: Sequence[ClusterProfile]) -> dict[int, str]:
    """cluster_id -> a distinct, deterministic name."""
    if len(profiles) == 4:
        return _names_k4(profiles)
    ordered = sorted(profiles, key=lambda p: p.cluster_id)
    top = min(ordered, key=lambda p: (-_activity(p), p.scaled_recency, p.cluster_id))
    lapsed = [p for p in ordered if p is not top and p.scaled_recency >= LAPSED_Z]
    most_lapsed = max(lapsed, key=lambda p: (p.scaled_recency, -p.cluster_id)) if lapsed else None
    base = {
        p.cluster_id: (
            "VIP" if p is top
            else "Churned" if p is most_lapsed
            else "At Risk" if p in lapsed
            else _recent_qualifier(p)
        )
        for p in ordered
    }
    counts = Counter(base.values())
    seen: Counter[str] = Counter()
    names: dict[int, str] = {}
    for p in ordered:
        name = base[p.cluster_id]
        if counts[name] > 1:
            seen[name] += 1
            name = f"{name} {seen[name]}"
        names[p.cluster_id] = name
    return names


def k4_name_violations(centroids: Sequence[Mapping]) -> list[str]:
    """Where k = 4 centroids (original units: cluster_name, recency_days, frequency, monetary - e.g. rows
    of ml.cluster_centroids) contradict the SPEC 9 descriptions. Empty when they all hold."""
    by_name = {c["cluster_name"]: c for c in centroids}
    if sorted(by_name) != sorted(SPEC_K4_NAMES) or len(centroids) != 4:
        got = [c["cluster_name"] for c in centroids]
        return [f"expected exactly the names {', '.join(SPEC_K4_NAMES)}, got {got}"]
    vip, potential, new, churned = (by_name[n] for n in SPEC_K4_NAMES)
    others = [potential, new, churned]
    problems = []

    def need(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    # VIP: buys often and spends a lot.
    need(all(vip["frequency"] > c["frequency"] for c in others), "VIP does not have the highest frequency")
    need(all(vip["monetary"] > c["monetary"] for c in others), "VIP does not have the highest monetary")
    # Churned: long time no purchase, low activity.
    need(
        all(churned["recency_days"] > c["recency_days"] for c in (vip, potential, new)),
        "Churned does not have the highest recency_days",
    )
    need(churned["frequency"] < potential["frequency"], "Churned buys more often than Potential")
    # New: bought recently, few times, low spend.
    need(new["recency_days"] < potential["recency_days"], "New is not more recent than Potential")
    need(new["frequency"] <= potential["frequency"], "New buys more often than Potential")
    need(new["monetary"] < potential["monetary"], "New spends more than Potential")
    # Potential: in between - below VIP on frequency and spend, more recent than Churned.
    need(
        potential["frequency"] < vip["frequency"] and potential["monetary"] < vip["monetary"],
        "Potential is not below VIP on frequency and monetary",
    )
    return problems


def check_k4_names_match_spec(centroids: Sequence[Mapping]) -> None:
    """Assert the SPEC 9 k = 4 descriptions hold for these centroids (for tests on real data)."""
    problems = k4_name_violations(centroids)
    assert not problems, "k = 4 names contradict SPEC 9: " + "; ".join(problems)
