"""What one clustering run does: algorithm, how k is chosen, seed and iteration limits (SPEC 9)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from segmentation.errors import SegmentationError

ALGORITHMS = ("kmeans", "bisecting_kmeans", "gaussian_mixture")
K_RULES = ("fixed", "silhouette", "elbow")

# The rule used when neither --k nor --k-rule is given. Elbow: on the UCI file the silhouette is highest
# at k = 2 (two blobs: active vs lapsed), which is too coarse to act on, while the elbow of the cost curve
# lands on a k where each cluster still has a distinct RFM profile. See ml/README.md for the figures.
DEFAULT_K_RULE = "elbow"

# SPEC 9: the sweep covers k = 2..10; a fixed k may go up to 50.
SWEEP_K_MIN = 2
SWEEP_K_MAX = 10
FIXED_K_MIN = 2
FIXED_K_MAX = 50

# 30 Lloyd iterations: KMeans on 3 standardised features converges in well under 20 iterations on UCI-sized
# data, and capping it keeps the 9-fit sweep fast on 2 cores.
DEFAULT_MAX_ITER = 30
DEFAULT_TOL = 1e-4


def sweep_ks(customers: int, k_min: int = SWEEP_K_MIN, k_max: int = SWEEP_K_MAX) -> list[int]:
    """The k values a sweep fits: k_min..k_max, capped so that every k has more customers than clusters
    (the silhouette means nothing otherwise). The pipeline and the benchmark's floor and pandas ways share it."""
    return list(range(k_min, min(k_max, customers - 1) + 1))


@dataclass(frozen=True)
class ClusteringConfig:
    algorithm: str = "kmeans"
    k: int | None = None  # a fixed k; when set, k_rule defaults to "fixed"
    k_rule: str | None = None  # fixed | silhouette | elbow; None: "fixed" if k is set, else DEFAULT_K_RULE
    k_min: int = SWEEP_K_MIN
    k_max: int = SWEEP_K_MAX
    seed: int = 42
    max_iter: int = DEFAULT_MAX_ITER
    tol: float = DEFAULT_TOL
    # With a fixed k the sweep still runs by default, so the report always has the elbow/silhouette curves.
    sweep_when_fixed: bool = True

    @property
    def effective_k_rule(self) -> str:
        if self.k_rule:
            return self.k_rule
        return "fixed" if self.k is not None else DEFAULT_K_RULE

    def validate(self) -> ClusteringConfig:
        """Raise a one-line SegmentationError for a configuration no run could satisfy."""
        if self.algorithm not in ALGORITHMS:
            raise SegmentationError(
                f"unknown clustering algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}"
            )
        rule = self.effective_k_rule
        if rule not in K_RULES:
            raise SegmentationError(f"unknown k rule {rule!r}; choose one of {', '.join(K_RULES)}")
        if rule == "fixed":
            if self.k is None:
                raise SegmentationError("k rule 'fixed' needs a k (--k 2..50)")
            if not FIXED_K_MIN <= self.k <= FIXED_K_MAX:
                raise SegmentationError(f"k must be between {FIXED_K_MIN} and {FIXED_K_MAX}, got {self.k}")
        elif self.k is not None:
            raise SegmentationError(f"k = {self.k} was given but the k rule is {rule!r}; drop one of them")
        if not SWEEP_K_MIN <= self.k_min <= self.k_max <= FIXED_K_MAX:
            raise SegmentationError(f"bad sweep range k = {self.k_min}..{self.k_max}")
        if self.max_iter < 1:
            raise SegmentationError(f"max_iter must be at least 1, got {self.max_iter}")
        return self

    def as_dict(self) -> dict:
        return {**asdict(self), "k_rule": self.effective_k_rule}
