"""The same SPEC computation in pandas + scikit-learn, the way the analysis notebooks do it: the
whole file in memory, vectorised groupby/cumsum/cummax for cancellation matching, sklearn KMeans
with the pipeline's k sweep. It is the benchmark's "notebook" way and may run out of memory at large
sizes (the harness records that)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from bench.common import (
    DATE_FORMATS_PY,
    NON_MERCHANDISE_CODES,
    OTHERS,
    PRICE_RE,
    QUANTITY_RE,
    REJECT_REASONS,
    SEGMENT_RULES,
    TYPED_COLUMNS,
    FloorResult,
    map_columns,
    outlier_summary,
    spark_round2,
)
from segmentation.clustering.config import sweep_ks

INT64_MAX = "9223372036854775807"


def squared_euclidean_silhouette(points: np.ndarray, labels: np.ndarray) -> float | None:
    """MLlib's silhouette (ClusteringEvaluator, squared euclidean) in O(n k): a point's mean squared
    distance to a cluster is |x|^2 - 2 x.mean + mean |y|^2. Its own cluster excludes the point itself
    (n - 1); a point alone in its cluster scores 0. None with fewer than two clusters, where MLlib raises."""
    _, labels = np.unique(labels, return_inverse=True)
    counts = np.bincount(labels).astype("float64")
    if len(counts) < 2:
        return None
    norms = (points * points).sum(axis=1)
    means = np.zeros((len(counts), points.shape[1]))
    np.add.at(means, labels, points)
    means /= counts[:, None]
    mean_norms = np.bincount(labels, weights=norms) / counts
    distance = norms[:, None] - 2 * points @ means.T + mean_norms[None, :]
    rows = np.arange(len(points))
    own_size = counts[labels]
    within = distance[rows, labels] * own_size / np.maximum(own_size - 1, 1)
    distance[rows, labels] = np.inf
    nearest = distance.min(axis=1)
    score = np.where(own_size > 1, (nearest - within) / np.maximum(within, nearest), 0.0)
    return float(score.mean())


def _text(s: pd.Series) -> pd.Series:
    # Spark's trim removes ' ' only, so strip(' ') rather than strip() (which also eats tabs, NBSP).
    s = s.str.strip(" ")
    return s.where(s != "", None)


def _to_bigint(s: pd.Series) -> pd.Series:
    """Whole numbers per spec_decisions (`3.0` is 3); values outside bigint become null."""
    ok = s.str.match(QUANTITY_RE).fillna(False).astype(bool)
    digits = s.where(ok).str.replace(r"\.0+$", "", regex=True)
    magnitude = digits.str.lstrip("+-").str.lstrip("0")
    limit = np.where(digits.str.startswith("-").fillna(False), "9223372036854775808", INT64_MAX)
    too_long = (magnitude.str.len() > 19) | (
        (magnitude.str.len() == 19) & (magnitude.fillna("") > pd.Series(limit, index=s.index))
    )
    digits = digits.where(~too_long.fillna(False))
    return pd.to_numeric(digits, errors="coerce").astype("Int64")


def _to_timestamp(s: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS_PY:
        missing = out.isna() & s.notna()
        if not missing.any():
            break
        out[missing] = pd.to_datetime(s[missing], format=fmt, errors="coerce")
    return out


def _to_double(s: pd.Series) -> pd.Series:
    ok = s.str.match(PRICE_RE).fillna(False).astype(bool)
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    out[ok] = s[ok].astype("float64")  # float() per value: correctly rounded, like Java's parser
    return out


def read_typed(paths: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    frames = []
    for path in paths:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding=encoding)
        mapping = map_columns(list(raw.columns))
        frames.append(raw[[mapping[c] for c in TYPED_COLUMNS]].set_axis(TYPED_COLUMNS, axis=1))
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    del frames
    df = pd.DataFrame(index=raw.index)
    df["invoice_no"] = _text(raw["invoice_no"]).str.upper()
    df["stock_code"] = _text(raw["stock_code"]).str.upper()
    df["description"] = _text(raw["description"])
    df["quantity"] = _to_bigint(_text(raw["quantity"]))
    df["invoice_date"] = _to_timestamp(_text(raw["invoice_date"]))
    df["unit_price"] = _to_double(_text(raw["unit_price"]))
    df["customer_id"] = _text(raw["customer_id"].str.strip(" ").str.replace(r"\.0+$", "", regex=True))
    df["country"] = _text(raw["country"])
    checks = [df[c].isna() for c in ("invoice_no", "stock_code", "quantity", "invoice_date", "unit_price")]
    df["reject_reason"] = np.select(checks, list(REJECT_REASONS), default=None)
    return df


def run_pandas(
    paths: list[str],
    *,
    k: int = 4,
    seed: int = 42,
    as_of_date: str | None = None,
    iqr_k: float = 1.5,
    encoding: str = "utf-8",
    non_merchandise: tuple[str, ...] = NON_MERCHANDISE_CODES,
) -> FloorResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        started = now

    typed = read_typed(paths, encoding)
    stats: dict[str, Any] = {"raw_rows": len(typed)}
    rejected = typed["reject_reason"].notna()
    stats["rejected"] = int(rejected.sum())
    stats["rejected_by_reason"] = {r: int((typed["reject_reason"] == r).sum()) for r in REJECT_REASONS}
    lines = typed[~rejected].drop(columns="reject_reason")
    del typed
    dup = lines.duplicated(subset=TYPED_COLUMNS, keep="first")  # NaN == NaN here, as null-safe equality
    stats["duplicates"] = int(dup.sum())
    lines = lines[~dup].drop(columns="description").reset_index(drop=True)
    stats["kept"] = len(lines)

    # SPEC 3: fill a missing customer from the invoice's single distinct known customer.
    per_invoice = lines.groupby("invoice_no")["customer_id"].agg(["nunique", "first"])
    single = per_invoice.loc[per_invoice["nunique"] == 1, "first"]
    fill = lines["customer_id"].isna() & lines["invoice_no"].isin(single.index)
    lines.loc[fill, "customer_id"] = lines.loc[fill, "invoice_no"].map(single)
    lines["is_customer_imputed"] = fill
    stats["customer_imputed_lines"] = int(fill.sum())
    inv = lines["invoice_no"]
    lines["line_kind"] = np.select(
        [inv.str.startswith("C"), inv.str.startswith("A"), lines["quantity"] > 0],
        ["cancellation", "adjustment", "purchase"],
        default="stock_adjustment",
    )
    lines["is_merchandise"] = ~lines["stock_code"].isin(non_merchandise)

    # SPEC 4: mode of positive prices per stock code; a tie goes to the lowest price.
    merch_purchase = (lines["line_kind"] == "purchase") & lines["is_merchandise"]
    counts = (
        lines.loc[merch_purchase & (lines["unit_price"] > 0)]
        .groupby(["stock_code", "unit_price"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["stock_code", "n", "unit_price"], ascending=[True, False, True])
    )
    modes = counts.drop_duplicates("stock_code").set_index("stock_code")["unit_price"]
    zero = merch_purchase & (lines["unit_price"] == 0)
    mode_price = lines.loc[zero, "stock_code"].map(modes)
    lines["effective_unit_price"] = lines["unit_price"]
    lines.loc[zero, "effective_unit_price"] = mode_price.fillna(0.0)
    stats["price_imputed_lines"] = int(mode_price.notna().sum())
    stats["no_reference_price_lines"] = int(mode_price.isna().sum())

    max_at = lines["invoice_date"].max()
    as_of = dt.date.fromisoformat(as_of_date) if as_of_date else max_at.date() + dt.timedelta(days=1)
    as_of_ts = pd.Timestamp(as_of)
    stats["as_of_date"] = as_of.isoformat()
    lap("read_type_dedup_impute")

    in_window = lines["invoice_date"] < as_of_ts
    pairs = (
        lines.loc[merch_purchase & in_window]
        .groupby(["quantity", "effective_unit_price"])
        .size()
        .reset_index()
    )
    stats.update(outlier_summary(list(pairs.itertuples(index=False, name=None)), iqr_k))
    lap("outliers")

    # SPEC 5: running max of (cancelled - purchased) units per (customer, stock code).
    is_cancel = (lines["line_kind"] == "cancellation") & (lines["quantity"] < 0)
    scope_mask = (
        in_window
        & lines["is_merchandise"]
        & lines["customer_id"].notna()
        & ((lines["line_kind"] == "purchase") | is_cancel)
    )
    scope = lines.loc[
        scope_mask,
        [
            "customer_id",
            "stock_code",
            "invoice_no",
            "invoice_date",
            "quantity",
            "unit_price",
            "effective_unit_price",
            "country",
        ],
    ].copy()
    scope["is_cancel"] = is_cancel[scope_mask].to_numpy()
    del lines
    scope["quantity"] = scope["quantity"].astype("int64")
    scope["units"] = scope["quantity"].abs()
    scope = scope.sort_values(
        ["customer_id", "stock_code", "invoice_date", "is_cancel", "invoice_no", "units", "unit_price"],
        kind="stable",
    )
    keys = [scope["customer_id"], scope["stock_code"]]
    scope["d"] = np.where(scope["is_cancel"], scope["units"], -scope["units"])
    scope["d"] = scope.groupby(keys, sort=False)["d"].cumsum()
    run_max = scope.groupby(keys, sort=False)["d"].cummax().clip(lower=0)
    prev_max = run_max.groupby(keys, sort=False).shift(1).fillna(0).astype("int64")
    unmatched = np.where(scope["is_cancel"], run_max - prev_max, 0)
    scope["matched"] = np.where(scope["is_cancel"], scope["units"] - unmatched, 0)
    cancel = scope["is_cancel"].to_numpy()
    n_cancel = int(cancel.sum())
    fully = int(((unmatched == 0) & cancel).sum())
    none_matched = int(((scope["matched"] == 0) & cancel).sum())
    stats["cancellation_matching"] = {
        "cancellation_lines": n_cancel,
        "fully_matched": fully,
        "partially_matched": n_cancel - fully - none_matched,
        "unmatched": none_matched,
        "unmatched_units": int(unmatched[cancel].sum()),
    }

    # SPEC 7: one row per customer with at least one merchandise purchase line in the window.
    purchases = scope[~scope["is_cancel"]]
    cancels = scope[scope["is_cancel"]]
    revenue = (purchases["quantity"] * purchases["effective_unit_price"]).groupby(purchases["customer_id"])
    revenue = revenue.sum()
    cancelled = (cancels["matched"] * cancels["unit_price"]).groupby(cancels["customer_id"]).sum()
    g = purchases.groupby("customer_id")
    rfm = pd.DataFrame(
        {
            "last_at": g["invoice_date"].max(),
            "first_at": g["invoice_date"].min(),
            "frequency": g["invoice_no"].nunique(),
            "distinct_products": g["stock_code"].nunique(),
        }
    )
    raw_monetary = revenue.reindex(rfm.index) - cancelled.reindex(rfm.index).fillna(0.0)
    rfm["monetary"] = [spark_round2(v) for v in raw_monetary.to_numpy()]
    rfm["recency_days"] = (as_of_ts - rfm["last_at"].dt.normalize()).dt.days
    rfm["tenure_days"] = (as_of_ts - rfm["first_at"].dt.normalize()).dt.days
    rfm["avg_order_value"] = [spark_round2(v) for v in (rfm["monetary"] / rfm["frequency"]).to_numpy()]
    cancel_invoices = cancels.groupby("customer_id")["invoice_no"].nunique().reindex(rfm.index).fillna(0)
    rfm["cancellation_rate"] = cancel_invoices / (rfm["frequency"] + cancel_invoices)
    country_counts = purchases.groupby(["customer_id", "country"], dropna=False).size().rename("n")
    country_counts = country_counts.reset_index()
    country_counts = country_counts.sort_values(
        ["customer_id", "n", "country"], ascending=[True, False, True], na_position="first"
    )
    rfm["main_country"] = country_counts.drop_duplicates("customer_id").set_index("customer_id")["country"]
    rfm = rfm.reset_index()

    # SPEC 8: 1 + floor(5 * (rank - 1) / n), rank() = lowest rank on ties.
    n = len(rfm)

    def score(rank: pd.Series) -> pd.Series:
        return (1 + (5 * (rank.astype("int64") - 1)) // n).astype("int64")

    rfm["r_score"] = score(rfm["recency_days"].rank(method="min", ascending=False))
    rfm["f_score"] = score(rfm["frequency"].rank(method="min"))
    rfm["m_score"] = score(rfm["monetary"].rank(method="min"))
    conditions = [
        rfm["r_score"].between(r0, r1) & rfm["f_score"].between(f0, f1) & rfm["m_score"].between(m0, m1)
        for _, (r0, r1), (f0, f1), (m0, m1) in SEGMENT_RULES
    ]
    rfm["segment"] = np.select(conditions, [rule[0] for rule in SEGMENT_RULES], default=OTHERS)
    lap("match_rfm_segments")

    # SPEC 9 with scikit-learn: population monetary > 0, log1p, standardised, KMeans(seed).
    population = rfm[rfm["monetary"] > 0]
    features = np.log1p(population[["recency_days", "frequency", "monetary"]].to_numpy(dtype="float64"))
    scaled = StandardScaler().fit_transform(features)
    # The pipeline's k sweep (k = 2..10, cost and silhouette each), keeping the fit at k.
    sweep_started = time.perf_counter()
    fits = {
        kk: KMeans(n_clusters=kk, random_state=seed, n_init=10).fit(scaled)
        for kk in sweep_ks(len(scaled))
    }
    model = fits[k] if k in fits else KMeans(n_clusters=k, random_state=seed, n_init=10).fit(scaled)
    stats["k_sweep"] = {
        "seconds": round(time.perf_counter() - sweep_started, 3),
        "points": [
            {"k": kk, "cost": float(m.inertia_), "silhouette": squared_euclidean_silhouette(scaled, m.labels_)}
            for kk, m in sorted(fits.items())
        ],
    }
    order = np.argsort(-model.cluster_centers_[:, 2], kind="stable")  # ids by centroid monetary desc
    remap = np.empty(k, dtype="int64")
    remap[order] = np.arange(k)
    clusters = pd.Series(remap[model.labels_], index=population.index)
    rfm["cluster"] = clusters.reindex(rfm.index).astype("Int64")
    sizes = np.bincount(remap[model.labels_], minlength=k).tolist()
    lap("kmeans")
    stats["timings_s"] = timings

    cents = np.round(rfm["monetary"].to_numpy() * 100).astype("int64")
    result_df = rfm[
        [
            "customer_id",
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "segment",
            "cluster",
        ]
    ]
    return FloorResult(
        customers=n,
        total_monetary=int(cents.sum()) / 100,
        segment_counts={str(s): int(c) for s, c in rfm["segment"].value_counts().items()},
        cluster_sizes=[int(s) for s in sizes],
        stats=stats,
        customers_df=result_df,
    )
