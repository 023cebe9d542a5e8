"""Pure-Python parts of the clustering step: k rules, naming, and the SPEC 9 k = 4 checker."""

from __future__ import annotations

import pytest

from segmentation.clustering.config import ClusteringConfig
from segmentation.clustering.naming import check_k4_names_match_spec, k4_name_violations, name_clusters
from segmentation.clustering.select import SweepPoint, choose_k, knee_index
from segmentation.clustering.train import ClusterProfile
from segmentation.errors import SegmentationError


def profile(cluster_id: int, z_r: float, z_f: float, z_m: float) -> ClusterProfile:
    return ClusterProfile(cluster_id, cluster_id, z_r, z_f, z_m, 0.0, 0.0, 0.0)


def centroid(name: str, recency: float, frequency: float, monetary: float) -> dict:
    return {"cluster_name": name, "recency_days": recency, "frequency": frequency, "monetary": monetary}


GOOD_K4 = [
    centroid("VIP", 10, 20, 8000),
    centroid("Potential", 70, 4, 1500),
    centroid("New", 20, 1.2, 250),
    centroid("Churned", 280, 1.1, 300),
]


def test_k4_checker_accepts_spec_profiles():
    check_k4_names_match_spec(GOOD_K4)
    assert k4_name_violations(GOOD_K4) == []


@pytest.mark.parametrize(
    ("swap", "expected"),
    [
        (("VIP", "Potential"), "VIP does not have the highest frequency"),
        (("Churned", "New"), "Churned does not have the highest recency_days"),
        (("New", "Potential"), "New is not more recent than Potential"),
    ],
)
def test_k4_checker_rejects_swapped_names(swap, expected):
    a, b = swap
    swapped = [dict(c, cluster_name={a: b, b: a}.get(c["cluster_name"], c["cluster_name"])) for c in GOOD_K4]
    with pytest.raises(AssertionError, match=expected):
        check_k4_names_match_spec(swapped)


def test_k4_checker_rejects_wrong_names():
    assert (
        "expected exactly the names" in k4_name_violations([*GOOD_K4[:3], centroid("Lost", 300, 1, 100)])[0]
    )


def test_k4_names_from_profiles():
    # Ids follow monetary: 0 VIP-like, 1 Potential-like, 2 Churned-like, 3 New-like.
    names = name_clusters(
        [
            profile(0, -1.0, 1.5, 1.5),
            profile(1, 0.2, 0.3, 0.4),
            profile(2, 1.6, -0.9, -0.7),
            profile(3, -0.8, -0.9, -1.0),
        ]
    )
    assert names == {0: "VIP", 1: "Potential", 2: "Churned", 3: "New"}


@pytest.mark.parametrize("k", [2, 3, 5, 6, 8, 10])
def test_names_are_distinct_for_any_k(k):
    # Deterministic pseudo-profiles along the activity axis, some sharing a qualifier.
    profiles = [profile(i, (i % 3) - 1.0, 1.5 - 3.0 * i / k, 1.2 - 2.5 * i / k) for i in range(k)]
    names = name_clusters(profiles)
    assert len(set(names.values())) == k
    assert names == name_clusters(list(reversed(profiles)))  # order of input does not matter
    assert sum(n == "VIP" for n in names.values()) == 1


def test_duplicate_qualifiers_are_numbered_by_cluster_id():
    names = name_clusters(
        [
            profile(0, -1, 2, 2),
            profile(1, -0.5, 0.8, 0.9),
            profile(2, -0.6, 0.7, 0.6),
            profile(3, 2, -1.5, -1.5),
            profile(4, 1.5, -1.2, -1.0),
        ]
    )
    assert names == {0: "VIP", 1: "Loyal 1", 2: "Loyal 2", 3: "Churned", 4: "At Risk"}


@pytest.mark.parametrize("k", [2, 3, 5, 6, 8, 10])
def test_names_keep_their_promise_for_any_k(k):
    """SPEC 9's descriptions hold whatever k: Churned is the most lapsed cluster, At Risk clusters are lapsing
    but more recent than it, Loyal / Potential / New are recent, New is the least active of them."""
    profiles = [profile(i, 2.0 * ((i * 7) % k) / k - 0.8, 1.5 - 3.0 * i / k, 1.2 - 2.5 * i / k) for i in range(k)]
    names = name_clusters(profiles)
    by_id = {p.cluster_id: p for p in profiles}
    churned = [by_id[c] for c, n in names.items() if n == "Churned"]
    for cid, name in names.items():
        p = by_id[cid]
        if name.startswith("At Risk"):
            assert churned and p.scaled_recency <= churned[0].scaled_recency, names
        if name.split()[0] in {"Loyal", "Potential", "New"}:
            assert p.scaled_recency < 0.5, names
    assert len(churned) <= 1


def test_a_very_lapsed_active_cluster_is_not_at_risk_beside_a_less_lapsed_churned():
    # The bundled sample's case at k = 5: an active cluster lapsed far longer than a low-activity one.
    names = name_clusters(
        [
            profile(0, -1.0, 1.8, 1.8),  # VIP
            profile(1, -0.6, 0.9, 0.8),  # recent, active
            profile(2, 1.9, 0.2, 0.3),  # very lapsed, middling activity
            profile(3, -0.4, -0.2, -0.3),  # recent, middling
            profile(4, 0.9, -1.2, -1.1),  # lapsed, low activity, but less lapsed than 2
        ]
    )
    assert names == {0: "VIP", 1: "Loyal", 2: "Churned", 3: "Potential", 4: "At Risk"}


def test_knee_of_a_classic_elbow():
    costs = [1000, 400, 120, 100, 85, 75, 68, 62, 58]  # k = 2..10, bend at k = 4
    assert [2, 3, 4, 5, 6, 7, 8, 9, 10][knee_index(list(range(2, 11)), costs)] == 4
    assert knee_index([2, 3, 4], [5, 5, 5]) == 0  # flat: the smallest k


def test_rules_choose_from_sweep():
    points = [
        SweepPoint(2, 100.0, 0.6, 2),
        SweepPoint(3, 30.0, 0.8, 3),
        SweepPoint(4, 25.0, 0.8, 4),
        SweepPoint(5, 22.0, 0.9, 4),
    ]  # k = 5 found only 4 centres: not a candidate
    assert choose_k("silhouette", points) == 3  # tie 0.8 -> smaller k
    assert choose_k("elbow", points) == 3
    assert choose_k("fixed", points, fixed_k=7) == 7
    # Sweep rows read back from a table come in any order; the rules sort by k first.
    assert choose_k("elbow", list(reversed(points))) == 3
    assert choose_k("silhouette", list(reversed(points))) == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ClusteringConfig(k=1), "between 2 and 50"),
        (ClusteringConfig(k=51), "between 2 and 50"),
        (ClusteringConfig(algorithm="dbscan"), "unknown clustering algorithm"),
        (ClusteringConfig(k_rule="gap"), "unknown k rule"),
        (ClusteringConfig(k_rule="fixed"), "needs a k"),
        (ClusteringConfig(k=4, k_rule="elbow"), "drop one of them"),
    ],
)
def test_config_validation(config, message):
    with pytest.raises(SegmentationError, match=message):
        config.validate()


def test_config_defaults():
    """The default k rule is pinned: without --k a run chooses k by the elbow of the cost curve (README,
    "Choosing k"); test_clustering.py::test_k_rules_find_three_blobs trains on real Spark by that default path."""
    assert ClusteringConfig(k=6).validate().effective_k_rule == "fixed"
    assert ClusteringConfig().validate().effective_k_rule == "elbow"
