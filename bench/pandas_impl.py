"""The same SPEC computation in pandas + scikit-learn, the way the analysis notebooks do it: the
whole file in memory, vectorised groupby/cumsum/cummax for cancellation matching, sklearn KMeans
with the pipeline's k sweep. It is the benchmark's "notebook" way and may run out of memory at large
sizes (the harness records that).

With `tables_dir` it writes every table of bench/tables.OUTPUT_TABLES as a Parquet folder
`<tables_dir>/<schema>.<table>/`, with the pipeline's column names and types, so that the harness can
check that it holds the same data as the pipeline's (bench/tables.py fingerprints). Money is carried as
integer micro-units per line (the pipeline's decimal(38, 6)), so sums, roundings and rankings by revenue
are exact, as with Spark's decimals.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
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
    Laps,
    map_columns,
    outlier_summary,
    spark_percentile,
)
from bench.tables import OUTPUT_TABLES
from segmentation.clustering.config import sweep_ks
from segmentation.clustering.naming import name_clusters
from segmentation.clustering.train import ClusterProfile, profiles_from_centers

INT64_MAX = "9223372036854775807"
MICROS_PER_CENT = 10_000
CHUNK_ROWS = 1_000_000  # line-level tables are converted and written this many rows at a time
# SPEC 3 line kinds by precedence (C invoices, A invoices, quantity > 0), else OTHER_KIND; an invoice's kind
# is the first kind among its lines.
LINE_KINDS = ["cancellation", "adjustment", "purchase"]
OTHER_KIND = "stock_adjustment"
SEGMENT_ACTIONS = Path(__file__).resolve().parents[1] / "seeds" / "segment_actions.csv"
# sklearn's own defaults, recorded in ml.model_runs.parameters.
KMEANS_PARAMS = {"n_init": 10, "max_iter": 300, "tol": 1e-4}

# The pipeline's column names and types per table (Spark DDL), as the fingerprints read them back.
SCHEMAS: dict[str, str] = {
    "raw_transactions": "invoice_no string, stock_code string, description string, quantity string, "
    "invoice_date string, unit_price string, customer_id string, country string, _source_line bigint, "
    "_loaded_at timestamp, _source_file string",
    "rejected_lines": "line_id string, reject_reason string, raw_invoice_no string, raw_stock_code string, "
    "raw_description string, raw_quantity string, raw_invoice_date string, raw_unit_price string, "
    "raw_customer_id string, raw_country string, _source_file string, _source_line bigint, _loaded_at timestamp",
    "fct_order_lines": "line_id string, invoice_no string, stock_code string, customer_id string, "
    "description string, country string, line_kind string, price_imputation_status string, match_status string, "
    "quantity bigint, unit_price double, effective_unit_price double, quantity_capped double, "
    "unit_price_capped double, matched_units bigint, unmatched_units bigint, cancelled_units bigint, "
    "net_quantity bigint, gross_revenue decimal(38,6), net_revenue decimal(38,6), "
    "net_revenue_capped decimal(38,6), is_merchandise boolean, is_merchandise_purchase boolean, "
    "is_customer_imputed boolean, is_price_imputed boolean, is_quantity_outlier boolean, "
    "is_unit_price_outlier boolean, is_outlier boolean, is_in_window boolean, is_in_matching_scope boolean, "
    "invoice_date timestamp, as_of_date date, _source_file string, _source_line bigint",
    "fct_orders": "invoice_no string, customer_id string, invoice_kind string, country string, line_count bigint, "
    "distinct_products int, total_quantity bigint, net_quantity bigint, gross_revenue decimal(38,6), "
    "net_revenue decimal(38,6), has_imputed_customer boolean, has_imputed_price boolean, "
    "has_outlier_line boolean, is_in_window boolean, invoice_date timestamp",
    "product_performance": "stock_code string, description string, top_rfm_segments string, "
    "purchased_units bigint, cancelled_units bigint, gross_revenue decimal(38,6), net_revenue decimal(38,6), "
    "cancellation_rate double, orders bigint, customers bigint, revenue_rank int",
    "customer_rfm": "customer_id string, rfm_cell string, rfm_segment string, main_country string, "
    "recency_days int, frequency int, monetary decimal(18,2), r_score int, f_score int, m_score int, "
    "tenure_days int, avg_order_value decimal(18,2), distinct_products int, purchased_units bigint, "
    "cancelled_units bigint, cancellation_rate double, as_of_date date, first_purchase_at timestamp, "
    "last_purchase_at timestamp",
    "dim_customers": "customer_id string, cluster_id int, cluster_run_id string, rfm_cell string, "
    "rfm_segment string, cluster_name string, cluster_algorithm string, rfm_recommended_action string, "
    "cluster_recommended_action string, main_country string, recency_days int, frequency int, "
    "monetary decimal(18,2), r_score int, f_score int, m_score int, tenure_days int, "
    "avg_order_value decimal(18,2), distinct_products int, purchased_units bigint, cancelled_units bigint, "
    "cancellation_rate double, as_of_date date, first_purchase_at timestamp, last_purchase_at timestamp",
    "segment_summary": "segment_kind string, segment string, cluster_id int, recommended_action string, "
    "customers bigint, customer_share double, revenue decimal(28,2), revenue_share double, "
    "avg_recency_days double, avg_frequency double, avg_monetary decimal(18,2), avg_r_score double, "
    "avg_f_score double, avg_m_score double",
    "segment_by_country": "segment_kind string, segment string, country string, customers bigint, "
    "revenue decimal(28,2), share_of_segment_customers double",
    "data_quality_summary": "section string, metric string, row_count bigint, share double, metric_value double",
    "cancellation_assumption_checks": "check_name string, unit string, matching_count bigint, total_count bigint, "
    "matching_pct double",
    "customer_clusters": "run_id string, customer_id string, cluster_id int, cluster_name string, "
    "algorithm string, k int, assigned_at timestamp",
    "cluster_centroids": "run_id string, cluster_id int, cluster_name string, customers bigint, "
    "recency_days double, frequency double, monetary double, scaled_recency double, scaled_frequency double, "
    "scaled_monetary double",
    "k_sweep": "run_id string, algorithm string, k int, cost double, silhouette double, is_chosen boolean",
    "model_runs": "run_id string, run_at timestamp, as_of_date date, algorithm string, k int, k_rule string, "
    "seed int, silhouette double, cost double, customers bigint, parameters string, model_path string",
}
_ARROW_TYPES = {
    "string": pa.large_string(),  # pandas' own string storage: no copy
    "bigint": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),  # Spark's session time zone is UTC
    "date": pa.date32(),
}


def arrow_schema(ddl: str) -> dict[str, pa.DataType]:
    """column -> Arrow type from a Spark DDL list (`name type, ...`, decimal(p,s) included)."""
    types: dict[str, pa.DataType] = {}
    for item in re.split(r",\s*(?![^()]*\))", ddl):
        name, kind = item.split()
        decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", kind)
        types[name] = pa.decimal128(int(decimal[1]), int(decimal[2])) if decimal else _ARROW_TYPES[kind]
    return types


class TableWriter:
    """Writes tables as Parquet folders `<folder>/<schema>.<table>/part-NNNNN.parquet`, one part per call
    (line-level tables come in chunks); a table's folder is emptied on its first write. Without a folder it
    writes nothing (the tests' runs)."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = None if folder is None else Path(folder)
        self.parts: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def write(self, logical: str, columns: Mapping[str, Any]) -> None:
        if self.folder is None:
            return
        schema, table = OUTPUT_TABLES[logical]
        target = self.folder / f"{schema}.{table}"
        part = self.parts.get(logical, 0)
        if part == 0:
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
        types = arrow_schema(SCHEMAS[logical])
        arrays = [
            value
            if isinstance(value := columns[name], pa.Array | pa.ChunkedArray)
            else pa.array(value, type=kind, from_pandas=True)  # NaN and None are nulls
            for name, kind in types.items()
        ]
        # Spark reads no nanosecond timestamps: pandas' ns values are written in microseconds.
        pq.write_table(
            pa.Table.from_arrays(arrays, names=list(types)),
            target / f"part-{part:05d}.parquet",
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
        )
        self.parts[logical] = part + 1


def decimal_array(units: Any, scale: int, precision: int = 38) -> pa.Array:
    """A decimal128(precision, scale) array holding exactly `units` / 10**scale (int64 units): the 128-bit
    little-endian two's complement words are built in numpy, no Python object per value."""
    values = np.asarray(units, dtype=np.int64)
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63  # sign extension
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(values), [None, pa.py_buffer(words)])


def dictionary_array(indices: Any, values: list[Any]) -> pa.Array:
    """values[indices] without repeating each value per row (file paths on every line, constants)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32)), pa.array(values))


def constant(text: str, rows: int) -> pa.Array:
    return dictionary_array(np.zeros(rows, dtype=np.int32), [text])


def to_micros(values: Any) -> np.ndarray:
    """A double amount as int64 micro-units: Spark's cast to decimal(38, 6). The two differ only when the
    7th decimal of the double's shortest form is exactly 5 (HALF_UP against numpy's rint), which amounts of up
    to five decimals (prices times whole quantities) never produce."""
    return np.rint(np.asarray(values, dtype="float64") * 1e6).astype(np.int64)


def half_up_div(numerator: Any, denominator: Any) -> np.ndarray:
    """numerator / denominator rounded HALF_UP (away from zero), in integers: Spark's decimal rounding."""
    num = np.asarray(numerator, dtype=np.int64)
    den = np.asarray(denominator, dtype=np.int64)
    magnitude = (2 * np.abs(num) + den) // (2 * den)
    return np.where(num < 0, -magnitude, magnitude)


def spark_round(values: Any, digits: int) -> list[float | None]:
    """Spark's round(double, digits): HALF_UP on the shortest decimal form of each double; NaN -> null.
    Python per value: only for per-customer and smaller results."""
    quantum = Decimal(1).scaleb(-digits)
    return [
        None
        if value is None or np.isnan(value)
        else float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
        for value in values
    ]


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


# ---------------------------------------------------------------- reading and typing (SPEC 1-2)


def _nullif_empty(s: pd.Series) -> pd.Series:
    return s.where(s != "", None)


def _text(s: pd.Series) -> pd.Series:
    # Spark's trim removes ' ' only, so strip(' ') rather than strip() (which also eats tabs, NBSP).
    return _nullif_empty(s.str.strip(" "))


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


def _blank_lines(path: Path, encoding: str, candidates: set[int]) -> set[int]:
    """Which of the candidate line numbers are empty lines: the ingest skips those, while a line of empty
    fields (",,,,,,,") is a row. Read line by line, but only for files that have such candidates."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as handle:
        return {n for n, line in enumerate(handle, start=1) if n in candidates and line in ("\n", "\r\n", "\r", "")}


def read_raw(path: Path, encoding: str) -> pd.DataFrame:
    """One file's rows as the ingest loads them: the eight canonical columns as strings (an empty field is
    null, as Spark's CSV parser makes it) and `_source_line`, the physical line (header = 1). Blank lines are
    read as rows so that the numbering follows the file, then dropped."""
    raw = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=False,
        encoding=encoding,
        encoding_errors="replace",
    )
    mapping = map_columns(list(raw.columns))
    empty = raw.iloc[:, 0].isna()
    if empty.any():
        empty[empty] = raw[empty].isna().all(axis=1)
    frame = raw[[mapping[c] for c in TYPED_COLUMNS]].set_axis(TYPED_COLUMNS, axis=1)
    del raw
    frame["_source_line"] = np.arange(2, len(frame) + 2, dtype=np.int64)
    if empty.any():
        blank = _blank_lines(path, encoding, set(frame.loc[empty, "_source_line"].tolist()))
        frame = frame[~frame["_source_line"].isin(blank)]
    return frame


# SPEC 2, per column, on the trimmed text (empty -> null).
_TYPERS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "invoice_no": lambda s: s.str.upper(),
    "stock_code": lambda s: s.str.upper(),
    "description": lambda s: s,
    "quantity": _to_bigint,
    "invoice_date": _to_timestamp,
    "unit_price": _to_double,
    "customer_id": lambda s: _nullif_empty(s.str.replace(r"\.0+$", "", regex=True)),
    "country": lambda s: s,
}


def type_rows(raw: pd.DataFrame, missing: dict[str, int]) -> pd.DataFrame:
    """SPEC 2: the typed columns and `reject_reason` (the first failing check in SPEC order); adds each
    column's empty values to `missing`. One column's text at a time."""
    typed = pd.DataFrame(index=raw.index)
    for column, typer in _TYPERS.items():
        text = _text(raw[column])
        missing[column] += int(text.isna().sum())
        typed[column] = typer(text)
    checks = [typed[c].isna() for c in ("invoice_no", "stock_code", "quantity", "invoice_date", "unit_price")]
    typed["reject_reason"] = np.select(checks, list(REJECT_REASONS), default=None)
    return typed


@dataclass
class Loaded:
    """What loading leaves besides the typed lines: the files in source order, the rejected rows with their
    raw text, and the raw figures of data_quality_summary."""

    files: list[str]
    rejected: pd.DataFrame
    raw_rows: int
    raw_missing: dict[str, int]


def load(paths: list[str], encoding: str, writer: TableWriter, loaded_at: dt.datetime) -> tuple[Loaded, pd.DataFrame]:
    """Reads and types the files one at a time, writing each one's raw rows before the next is read, so
    only one file's raw text is in memory. Files in path order, as the pipeline's source order. Returns the
    typable rows (typed columns, file index, `_source_line`) apart."""
    files = sorted(dict.fromkeys(str(Path(p).resolve()) for p in paths))
    kept: list[pd.DataFrame] = []
    rejected: list[pd.DataFrame] = []
    missing = dict.fromkeys(TYPED_COLUMNS, 0)
    raw_rows = 0
    for index, file in enumerate(files):
        raw = read_raw(Path(file), encoding)
        raw_rows += len(raw)
        writer.write(
            "raw_transactions",
            {
                **{c: raw[c] for c in TYPED_COLUMNS},
                "_source_line": raw["_source_line"],
                "_loaded_at": np.full(len(raw), np.datetime64(loaded_at, "us")),
                "_source_file": constant(file, len(raw)),
            },
        )
        typed = type_rows(raw, missing)
        bad = typed["reject_reason"].notna()
        # The rejects keep their trimmed raw text.
        rejected.append(
            pd.DataFrame(
                {
                    **{c: _text(raw.loc[bad, c]) for c in TYPED_COLUMNS},
                    "reject_reason": typed.loc[bad, "reject_reason"],
                    "_source_line": raw.loc[bad, "_source_line"],
                }
            ).assign(file=np.int32(index))
        )
        kept.append(
            typed[~bad].drop(columns="reject_reason").assign(file=np.int32(index), _source_line=raw["_source_line"])
        )
        del raw, typed
    lines = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)
    del kept
    lines["quantity"] = lines["quantity"].astype("int64")
    return Loaded(files, pd.concat(rejected, ignore_index=True), raw_rows, missing), lines


def write_rejected(writer: TableWriter, rejected: pd.DataFrame, files: list[str], loaded_at: dt.datetime) -> None:
    paths = pd.Series(files, dtype=object).iloc[rejected["file"]].to_numpy()
    lines = rejected["_source_line"].to_numpy()
    writer.write(
        "rejected_lines",
        {
            "line_id": [f"{p}:{n}" for p, n in zip(paths, lines, strict=True)],  # few rows
            "reject_reason": rejected["reject_reason"],
            **{f"raw_{c}": rejected[c] for c in TYPED_COLUMNS},
            "_source_file": paths,
            "_source_line": lines,
            "_loaded_at": np.full(len(rejected), np.datetime64(loaded_at, "us")),
        },
    )


# ---------------------------------------------------------------- line-level steps (SPEC 3-6)


def dedup_and_classify(lines: pd.DataFrame, non_merchandise: tuple[str, ...], stats: dict[str, Any]) -> pd.DataFrame:
    """SPEC 2-3: drop repeats of an earlier line (NaN == NaN here, as null-safe equality), fill a missing
    customer from the invoice's single distinct known customer, and classify."""
    dup = lines.duplicated(subset=TYPED_COLUMNS, keep="first")
    stats["duplicates"] = int(dup.sum())
    lines = lines[~dup].reset_index(drop=True)
    stats["kept"] = len(lines)
    per_invoice = lines.groupby("invoice_no")["customer_id"].agg(["nunique", "first"])
    single = per_invoice.loc[per_invoice["nunique"] == 1, "first"]
    fill = lines["customer_id"].isna() & lines["invoice_no"].isin(single.index)
    lines.loc[fill, "customer_id"] = lines.loc[fill, "invoice_no"].map(single)
    lines["is_customer_imputed"] = fill.to_numpy()
    stats["customer_imputed_lines"] = int(fill.sum())
    inv = lines["invoice_no"]
    lines["line_kind"] = labelled(
        [inv.str.startswith("C"), inv.str.startswith("A"), lines["quantity"] > 0], LINE_KINDS, OTHER_KIND
    )
    lines["is_merchandise"] = ~lines["stock_code"].isin(non_merchandise).to_numpy()
    lines["is_merchandise_purchase"] = (
        lines["is_merchandise"].to_numpy() & (lines["line_kind"] == "purchase").to_numpy()
    )
    return lines


def impute_prices(lines: pd.DataFrame, stats: dict[str, Any]) -> None:
    """SPEC 4: the mode of positive prices per stock code over every kept merchandise purchase line (a tie
    goes to the lowest price) replaces a zero price on merchandise purchase lines."""
    merch_purchase = lines["is_merchandise_purchase"]
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
    mode_price = lines.loc[zero, "stock_code"].map(modes).astype("float64")  # float even when empty
    lines["effective_unit_price"] = lines["unit_price"]
    lines.loc[zero, "effective_unit_price"] = mode_price.fillna(0.0)
    imputed = np.zeros(len(lines), dtype=bool)
    imputed[zero.to_numpy()] = mode_price.notna().to_numpy()
    lines["price_imputation_status"] = labelled([imputed, zero], ["imputed", "no_reference_price"], "not_applicable")
    lines["is_price_imputed"] = imputed
    stats["price_imputed_lines"] = int(mode_price.notna().sum())
    stats["no_reference_price_lines"] = int(mode_price.isna().sum())


def flag_window_and_scope(lines: pd.DataFrame, as_of: dt.date) -> None:
    """SPEC 7 window and SPEC 5 matching scope: merchandise lines of known customers in the window that are
    purchases or cancellations with quantity < 0."""
    lines["is_in_window"] = (lines["invoice_date"] < pd.Timestamp(as_of)).to_numpy()
    kind = lines["line_kind"]
    lines["is_in_matching_scope"] = (
        lines["is_in_window"].to_numpy()
        & lines["is_merchandise"].to_numpy()
        & lines["customer_id"].notna().to_numpy()
        & ((kind == "purchase") | ((kind == "cancellation") & (lines["quantity"] < 0))).to_numpy()
    )


def outlier_fences(lines: pd.DataFrame, iqr_k: float, stats: dict[str, Any]) -> dict[str, dict[str, float]]:
    """SPEC 6: exact quartiles and fences of quantity and effective price over the merchandise purchase lines
    in the window, from a (quantity, price) histogram; the flags and capped values of every merchandise
    purchase line. Returns {measure: {q1, q3, lower_fence, upper_fence}} (empty without such lines)."""
    merch_purchase = lines["is_merchandise_purchase"].to_numpy()
    pairs = (
        lines.loc[merch_purchase & lines["is_in_window"].to_numpy()]
        .groupby(["quantity", "effective_unit_price"])
        .size()
        .rename("n")
        .reset_index()
    )
    stats.update(outlier_summary(list(pairs.itertuples(index=False, name=None)), iqr_k))
    fences: dict[str, dict[str, float]] = {}
    for measure, key, values, flag, capped in (
        (
            "quantity",
            "quantity_fences",
            lines["quantity"].to_numpy().astype("float64"),
            "is_quantity_outlier",
            "quantity_capped",
        ),
        (
            "effective_unit_price",
            "unit_price_fences",
            lines["effective_unit_price"].to_numpy(),
            "is_unit_price_outlier",
            "unit_price_capped",
        ),
    ):
        lower, upper = stats[key]
        if len(pairs):
            hist = list(pairs.groupby(measure)["n"].sum().items())
            q1, q3 = (spark_percentile(hist, p) for p in (0.25, 0.75))
            fences[measure] = {"q1": q1, "q3": q3, "lower_fence": lower, "upper_fence": upper}
        lines[flag] = merch_purchase & ((values < lower) | (values > upper))  # NaN fences flag nothing
        # Spark's greatest/least skip null fences, as fmax/fmin skip NaN.
        lines[capped] = np.where(merch_purchase, np.fmin(np.fmax(values, lower), upper), values)
    lines["is_outlier"] = lines["is_quantity_outlier"].to_numpy() | lines["is_unit_price_outlier"].to_numpy()
    return fences


def labelled(conditions: list[Any], labels: list[str], default: str | None = None) -> pd.Categorical:
    """np.select of `labels` (else `default`, else null) as a categorical: a byte per row, not a string."""
    names = labels if default is None else [*labels, default]
    codes = np.select(conditions, list(range(len(labels))), default=-1 if default is None else len(labels))
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=names)


def run_ids(*columns: pd.Series) -> np.ndarray:
    """0, 1, 2, ... for the runs of equal values in rows sorted by `columns`: one id per key."""
    change = np.zeros(len(columns[0]), dtype=bool)
    change[:1] = True
    for column in columns:
        change |= (column != column.shift()).to_numpy(dtype=bool)  # vectorised, also on Arrow strings
    return np.cumsum(change) - 1


def peak_increase(group: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """How much each row raises its group's running maximum of cumsum(delta), floored at 0, for rows sorted
    by group and in key order within it: a cancellation's unmatched amount (SPEC 5)."""
    balance = pd.Series(delta).groupby(group, sort=False).cumsum()
    peak = balance.groupby(group, sort=False).cummax().clip(lower=0)
    return (peak - peak.groupby(group, sort=False).shift(1, fill_value=0)).to_numpy()


def _nullable(rows: int, positions: np.ndarray, values: np.ndarray) -> pd.arrays.IntegerArray:
    """An Int64 column of `rows` nulls with `values` at `positions`."""
    data = np.zeros(rows, dtype=np.int64)
    mask = np.ones(rows, dtype=bool)
    data[positions] = values
    mask[positions] = False
    return pd.arrays.IntegerArray(data, mask)


def match_cancellations(lines: pd.DataFrame, stats: dict[str, Any]) -> pd.DataFrame:
    """SPEC 5 on the in-scope lines, in key order per (customer, stock code): invoice_date, purchases first,
    invoice_no, |quantity|, unit_price, then source position (the frame's order). d = running (cancelled -
    purchased) units; a cancellation's unmatched units are how much it raises max(d), floored at 0.
    Purchases get cancelled_units: the key's matched units allocated first-in, first-out. Sets the matching
    columns on `lines` and returns the sorted scope (its index = positions in `lines`), with `key` ids."""
    scope = lines.loc[
        lines["is_in_matching_scope"],
        ["customer_id", "stock_code", "invoice_no", "invoice_date", "quantity", "unit_price"],
    ]
    scope["is_cancel"] = (lines.loc[scope.index, "line_kind"] == "cancellation").to_numpy()
    scope["units"] = scope["quantity"].abs()
    scope = scope.sort_values(
        ["customer_id", "stock_code", "invoice_date", "is_cancel", "invoice_no", "units", "unit_price"],
        kind="stable",
    )
    key = run_ids(scope["customer_id"], scope["stock_code"])
    scope["key"] = key
    cancel = scope["is_cancel"].to_numpy()
    units = scope["units"].to_numpy()
    unmatched = np.where(cancel, peak_increase(key, np.where(cancel, units, -units)), 0)
    matched = np.where(cancel, units - unmatched, 0)
    purchased = np.where(cancel, 0, units)
    before = pd.Series(purchased).groupby(key, sort=False).cumsum().to_numpy() - purchased
    key_matched = pd.Series(matched).groupby(key, sort=False).transform("sum").to_numpy()
    cancelled = np.minimum(units, np.maximum(0, key_matched - before))
    scope["matched_units"] = matched
    positions = scope.index.to_numpy()
    rows = len(lines)
    lines["matched_units"] = _nullable(rows, positions[cancel], matched[cancel])
    lines["unmatched_units"] = _nullable(rows, positions[cancel], unmatched[cancel])
    lines["cancelled_units"] = _nullable(rows, positions[~cancel], cancelled[~cancel])
    status = labelled([cancel & (unmatched == 0), cancel & (matched == 0), cancel], ["full", "none", "partial"])
    scope["match_status"] = status
    codes = np.full(rows, -1, dtype=np.int8)
    codes[positions] = status.codes
    lines["match_status"] = pd.Categorical.from_codes(codes, dtype=status.dtype)
    counts = status.value_counts()
    stats["cancellation_matching"] = {
        "cancellation_lines": int(cancel.sum()),
        "fully_matched": int(counts["full"]),
        "partially_matched": int(counts["partial"]),
        "unmatched": int(counts["none"]),
        "unmatched_units": int(unmatched[cancel].sum()),
    }
    return scope


def add_revenue(lines: pd.DataFrame) -> None:
    """SPEC 7 per line, in micro-units: gross = quantity * effective price on merchandise purchase lines;
    net on in-scope lines = that for purchases, -matched_units * the cancellation's own unit_price for
    cancellations (unmatched units are dropped), 0 elsewhere; net_capped the same with capped values."""
    in_scope = lines["is_in_matching_scope"].to_numpy()
    purchase = in_scope & (lines["line_kind"] == "purchase").to_numpy()
    cancel = in_scope & ~purchase
    quantity = lines["quantity"].to_numpy()
    price = lines["effective_unit_price"].to_numpy()
    matched = lines["matched_units"].to_numpy(dtype="int64", na_value=0)
    cancel_value = np.where(cancel, -matched * lines["unit_price"].to_numpy(), 0.0)
    lines["net_quantity"] = np.where(purchase, quantity, np.where(cancel, -matched, 0))
    lines["gross_micros"] = to_micros(np.where(lines["is_merchandise_purchase"].to_numpy(), quantity * price, 0.0))
    lines["net_micros"] = to_micros(np.where(purchase, quantity * price, cancel_value))
    capped = lines["quantity_capped"].to_numpy() * lines["unit_price_capped"].to_numpy()
    lines["net_capped_micros"] = to_micros(np.where(purchase, capped, cancel_value))


def write_order_lines(writer: TableWriter, lines: pd.DataFrame, files: list[str], as_of: dt.date) -> None:
    """fct_order_lines in chunks, so that only a chunk's line ids and Arrow copy exist at a time."""
    if not writer.enabled:
        return
    prefixes = pa.array([f"{f}:" for f in files])
    for start in range(0, max(len(lines), 1), CHUNK_ROWS):
        chunk = lines.iloc[start : start + CHUNK_ROWS]
        file_index = pa.array(chunk["file"].to_numpy(dtype=np.int32))
        line = pa.array(chunk["_source_line"].to_numpy())
        writer.write(
            "fct_order_lines",
            {
                **{c: chunk[c] for c in chunk.columns},
                "line_id": pc.binary_join_element_wise(prefixes.take(file_index), pc.cast(line, pa.string()), ""),
                "gross_revenue": decimal_array(chunk["gross_micros"], 6),
                "net_revenue": decimal_array(chunk["net_micros"], 6),
                "net_revenue_capped": decimal_array(chunk["net_capped_micros"], 6),
                "as_of_date": np.full(len(chunk), np.datetime64(as_of, "D")),
                "_source_file": dictionary_array(file_index, files),
            },
        )


# ---------------------------------------------------------------- marts from the lines


def fct_orders(lines: pd.DataFrame) -> dict[str, Any]:
    """One row per invoice over the kept lines; its kind is the kind of its lines (C, then A, then any
    purchase line). max/min of the text columns skip nulls, as in Spark."""
    flags = {f"is_{kind}": (lines["line_kind"] == kind).to_numpy() for kind in LINE_KINDS}
    orders = (
        lines.assign(**flags)
        .groupby("invoice_no", sort=False)
        .agg(
            customer_id=("customer_id", "max"),
            country=("country", "min"),
            line_count=("stock_code", "size"),
            distinct_products=("stock_code", "nunique"),
            total_quantity=("quantity", "sum"),
            net_quantity=("net_quantity", "sum"),
            gross_micros=("gross_micros", "sum"),
            net_micros=("net_micros", "sum"),
            **{f"any_{kind}": (f"is_{kind}", "any") for kind in LINE_KINDS},
            has_imputed_customer=("is_customer_imputed", "any"),
            has_imputed_price=("is_price_imputed", "any"),
            has_outlier_line=("is_outlier", "any"),
            is_in_window=("is_in_window", "any"),
            invoice_date=("invoice_date", "min"),
        )
    )
    orders["invoice_kind"] = labelled([orders[f"any_{kind}"] for kind in LINE_KINDS], LINE_KINDS, OTHER_KIND)
    return {
        **{c: orders[c] for c in orders.columns},
        "invoice_no": orders.index.to_series(),
        "gross_revenue": decimal_array(orders["gross_micros"], 6),
        "net_revenue": decimal_array(orders["net_micros"], 6),
    }


def _first_by_count(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """key -> the value on most rows, a tie to the smallest value (nulls not counted)."""
    counts = frame.dropna(subset=[value]).groupby([key, value]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[value]


def rfm_score(values: pd.Series, *, descending: bool = False) -> pd.Series:
    """SPEC 8: 1 + floor(5 * (rank - 1) / n), rank() = lowest rank on ties."""
    rank = values.rank(method="min", ascending=not descending).astype("int64")
    return (1 + (5 * (rank - 1)) // len(values)).astype("int32")


def segment_of(r: pd.Series, f: pd.Series, m: pd.Series) -> np.ndarray:
    """SPEC 8: the first rule in priority order whose ranges hold, else Others."""
    conditions = [
        r.between(r0, r1) & f.between(f0, f1) & m.between(m0, m1) for _, (r0, r1), (f0, f1), (m0, m1) in SEGMENT_RULES
    ]
    return np.select(conditions, [rule[0] for rule in SEGMENT_RULES], default=OTHERS)


def customer_rfm(lines: pd.DataFrame, scope: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """SPEC 7-8: one row per customer with a merchandise purchase line in the window (the scope's
    purchases). Monetary is the sum of the lines' net revenue rounded HALF_UP to cents, as the pipeline's
    decimals; kept as integer cents (`cents`) for exact ranks."""
    in_scope = scope.assign(net_micros=lines["net_micros"], country=lines["country"])  # aligned on the index
    purchases = in_scope[~in_scope["is_cancel"]]
    cancels = in_scope[in_scope["is_cancel"]]
    g = purchases.groupby("customer_id")
    rfm = pd.DataFrame(
        {
            "first_purchase_at": g["invoice_date"].min(),
            "last_purchase_at": g["invoice_date"].max(),
            "frequency": g["invoice_no"].nunique().astype("int32"),
            "distinct_products": g["stock_code"].nunique().astype("int32"),
            "purchased_units": g["quantity"].sum(),
        }
    )
    by_customer = in_scope.groupby("customer_id")
    micros = by_customer["net_micros"].sum().reindex(rfm.index)
    rfm["cancelled_units"] = by_customer["matched_units"].sum().reindex(rfm.index)
    cancel_invoices = cancels.groupby("customer_id")["invoice_no"].nunique().reindex(rfm.index).fillna(0)
    rfm["main_country"] = _first_by_count(purchases, "customer_id", "country")
    del in_scope, purchases, cancels
    as_of_ts = pd.Timestamp(as_of)
    rfm["recency_days"] = (as_of_ts - rfm["last_purchase_at"].dt.normalize()).dt.days.astype("int32")
    rfm["tenure_days"] = (as_of_ts - rfm["first_purchase_at"].dt.normalize()).dt.days.astype("int32")
    rfm["cents"] = half_up_div(micros.to_numpy(), MICROS_PER_CENT)
    rfm["monetary"] = rfm["cents"] / 100
    rfm["avg_order_cents"] = half_up_div(rfm["cents"].to_numpy(), rfm["frequency"].to_numpy())
    rfm["cancellation_rate"] = spark_round(
        (cancel_invoices / (rfm["frequency"] + cancel_invoices)).to_numpy(dtype="float64"), 4
    )
    rfm = rfm.reset_index()
    rfm["r_score"] = rfm_score(rfm["recency_days"], descending=True)
    rfm["f_score"] = rfm_score(rfm["frequency"])
    rfm["m_score"] = rfm_score(rfm["cents"])
    rfm["rfm_cell"] = rfm["r_score"].astype(str) + rfm["f_score"].astype(str) + rfm["m_score"].astype(str)
    rfm["rfm_segment"] = segment_of(rfm["r_score"], rfm["f_score"], rfm["m_score"])
    return rfm


def customer_columns(rfm: pd.DataFrame, as_of: dt.date) -> dict[str, Any]:
    """customer_rfm's columns that dim_customers repeats, with the money as decimal(18, 2)."""
    return {
        **{c: rfm[c] for c in rfm.columns},
        "monetary": decimal_array(rfm["cents"], 2, 18),
        "avg_order_value": decimal_array(rfm["avg_order_cents"], 2, 18),
        "as_of_date": np.full(len(rfm), np.datetime64(as_of, "D")),
    }


def product_performance(lines: pd.DataFrame, rfm: pd.DataFrame) -> dict[str, Any]:
    """One row per merchandise stock code with a purchase line in the window: units, revenue, matched
    cancellations, orders, customers, its commonest description and its three top RFM segments by net
    revenue (ties to the segment name), ranked by net revenue. Each figure takes only the columns it needs
    of the lines it needs, so no copy of the window's lines is held whole."""
    window = lines["is_merchandise"].to_numpy() & lines["is_in_window"].to_numpy()
    purchase = (lines["line_kind"] == "purchase").to_numpy()
    in_scope = lines["is_in_matching_scope"].to_numpy()  # in-scope lines are merchandise lines in the window

    def of(mask: np.ndarray, *columns: str) -> pd.DataFrame:
        return lines.loc[mask, list(columns)]

    sums = of(window, "stock_code", "quantity", "gross_micros", "net_micros", "matched_units")
    is_purchase, scoped = purchase[window], in_scope[window]
    quantity = sums["quantity"].to_numpy()
    parts = pd.DataFrame(
        {
            "stock_code": sums["stock_code"],
            "purchased_units": np.where(is_purchase, quantity, 0),
            "gross_micros": np.where(is_purchase, sums["gross_micros"], 0),
            "net_micros": sums["net_micros"],
            "customer_purchased_units": np.where(scoped & is_purchase, quantity, 0),
            "cancelled_units": np.where(scoped & ~is_purchase, sums["matched_units"].to_numpy("int64", na_value=0), 0),
            "purchase_lines": is_purchase,
        }
    )
    del sums
    products = parts.groupby("stock_code").sum()
    del parts
    products = products[products["purchase_lines"] > 0].copy()
    orders = of(window & purchase, "stock_code", "invoice_no").drop_duplicates()
    products["orders"] = orders.groupby("stock_code").size()
    buyers = of(window & lines["customer_id"].notna().to_numpy(), "stock_code", "customer_id").drop_duplicates()
    products["customers"] = buyers.groupby("stock_code").size()
    del orders, buyers
    products["description"] = _first_by_count(of(window, "stock_code", "description"), "stock_code", "description")
    segments = (
        of(in_scope, "stock_code", "customer_id", "net_micros")
        .merge(rfm[["customer_id", "rfm_segment"]], on="customer_id")
        .groupby(["stock_code", "rfm_segment"])["net_micros"]
        .sum()
        .reset_index()
        .sort_values(["stock_code", "net_micros", "rfm_segment"], ascending=[True, False, True])
    )
    top = segments[segments.groupby("stock_code").cumcount() < 3]
    products["top_rfm_segments"] = top.groupby("stock_code", sort=False)["rfm_segment"].agg(", ".join)
    products = products.reset_index().sort_values(["net_micros", "stock_code"], ascending=[False, True])
    rate = products["cancelled_units"] / products["customer_purchased_units"].replace(0, np.nan)
    return {
        **{c: products[c] for c in products.columns},
        "orders": products["orders"].fillna(0).astype("int64"),
        "customers": products["customers"].fillna(0).astype("int64"),
        "gross_revenue": decimal_array(products["gross_micros"], 6),
        "net_revenue": decimal_array(products["net_micros"], 6),
        "cancellation_rate": spark_round(rate.to_numpy(dtype="float64"), 4),
        "revenue_rank": np.arange(1, len(products) + 1, dtype=np.int32),
    }


def cancellation_checks(scope: pd.DataFrame, matching: dict[str, int]) -> dict[str, Any]:
    """SPEC 5's assumption checks on the keys (customer, stock code, |quantity|) that have a cancellation:
    one-to-one greedy line matching (exact counterpart: the matching above, counting lines instead of units,
    so the scope's key order serves) and invoice independence (a cancellation invoice's lines all find their
    counterparts in one single purchase invoice dated no later)."""
    has_cancel = scope.groupby(["key", "units"], sort=False)["is_cancel"].transform("any").to_numpy()
    exact = scope.loc[has_cancel, ["key", "units", "is_cancel", "invoice_no", "invoice_date"]]
    exact = exact.sort_values(["key", "units"], kind="stable")  # keeps the key order within each key
    exact_key = run_ids(exact["key"], exact["units"])
    cancel = exact["is_cancel"].to_numpy()
    unmatched_line = peak_increase(exact_key, np.where(cancel, 1, -1))
    exact = exact.assign(exact_key=exact_key, line=exact.index)
    cancels = exact[cancel]
    purchases = exact.loc[~cancel, ["exact_key", "invoice_no", "invoice_date"]]
    pairs = cancels.merge(purchases, on="exact_key", suffixes=("", "_purchase"))
    pairs = pairs[pairs["invoice_date"] >= pairs["invoice_date_purchase"]]
    covered = (
        pairs.drop_duplicates(["line", "invoice_no_purchase"]).groupby(["invoice_no", "invoice_no_purchase"]).size()
    )
    invoice_lines = cancels.groupby("invoice_no").size()
    complete = covered.to_numpy() == invoice_lines.reindex(covered.index.get_level_values(0)).to_numpy()
    independent = covered.index.get_level_values(0)[complete].nunique()
    all_cancels = scope[scope["is_cancel"]]
    lines = matching["cancellation_lines"]
    checks = [
        ("cancellation_lines_fully_matched", "cancellation lines", matching["fully_matched"], lines),
        ("cancellation_lines_partially_matched", "cancellation lines", matching["partially_matched"], lines),
        ("cancellation_lines_unmatched", "cancellation lines", matching["unmatched"], lines),
        (
            "cancelled_units_matched",
            "units",
            int(all_cancels["matched_units"].sum()),
            int(all_cancels["units"].sum()),
        ),
        ("exact_counterpart", "cancellation lines", int((unmatched_line[cancel] == 0).sum()), int(cancel.sum())),
        ("independence", "cancellation invoices", int(independent), len(invoice_lines)),
        # An in-scope invoice is all purchases or all cancellations (C invoices are cancellations).
        ("cancelled_invoice_share", "invoices", all_cancels["invoice_no"].nunique(), scope["invoice_no"].nunique()),
    ]
    names, units, hits, totals = (list(column) for column in zip(*checks, strict=True))
    return {
        "check_name": names,
        "unit": units,
        "matching_count": hits,
        "total_count": totals,
        "matching_pct": spark_round([100 * h / t if t else np.nan for h, t in zip(hits, totals, strict=True)], 2),
    }


def _occurring(values: pd.Series) -> dict[str, int]:
    """value -> rows, for the values that occur (a categorical counts its unused categories as 0)."""
    return {str(value): int(n) for value, n in values.value_counts().items() if n}


def line_figures(lines: pd.DataFrame) -> dict[str, Any]:
    """The line-level counts data_quality_summary reports."""
    merch_purchase = lines["is_merchandise_purchase"].to_numpy()
    in_window = merch_purchase & lines["is_in_window"].to_numpy()
    zero = merch_purchase & (lines["unit_price"] == 0).to_numpy()
    cancels = lines.loc[lines["is_in_matching_scope"].to_numpy() & (lines["line_kind"] == "cancellation").to_numpy()]
    return {
        "line_kinds": _occurring(lines["line_kind"]),
        "still_missing": int(lines["customer_id"].isna().sum()),
        "price_statuses": _occurring(lines.loc[zero, "price_imputation_status"]),
        "purchase_lines": int(in_window.sum()),
        "outliers": {
            metric: int((lines[flag].to_numpy() & in_window).sum())
            for metric, flag in (
                ("quantity_outlier_lines", "is_quantity_outlier"),
                ("unit_price_outlier_lines", "is_unit_price_outlier"),
                ("outlier_lines", "is_outlier"),
            )
        },
        "matching": cancels.groupby("match_status", observed=True)["matched_units"].agg(["size", "sum"]),
    }


def data_quality_summary(
    stats: dict[str, Any], loaded: Loaded, figures: dict[str, Any], fences: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """The EDA sections of marts.data_quality_summary; a section lists only the groups that occur, except
    raw_missing, customer_imputation and outliers, which are one aggregate each."""
    rows: list[tuple[str, str, int | None, int | None, float | None]] = []  # section, metric, count, base, value
    raw_rows, kept = loaded.raw_rows, stats["kept"]
    rows += [("raw_missing", column, count, raw_rows, None) for column, count in loaded.raw_missing.items()]
    fates = {"kept": kept, "duplicate": stats["duplicates"], "rejected": stats["rejected"]}
    rows += [("row_fate", fate, count, raw_rows, None) for fate, count in fates.items() if count]
    reasons = stats["rejected_by_reason"]
    rows += [("reject_reason", reason, count, raw_rows, None) for reason, count in reasons.items() if count]
    rows += [("line_kind", kind, count, kept, None) for kind, count in figures["line_kinds"].items()]
    rows += [
        ("customer_imputation", "imputed_from_invoice", stats["customer_imputed_lines"], kept, None),
        ("customer_imputation", "still_missing", figures["still_missing"], kept, None),
    ]
    statuses = figures["price_statuses"]
    rows += [("price_imputation", s, n, sum(statuses.values()), None) for s, n in statuses.items()]
    rows += [("outliers", m, n, figures["purchase_lines"], None) for m, n in figures["outliers"].items()]
    rows += [
        ("outlier_fences", f"{measure}_{fence}", None, None, value)
        for measure, values in fences.items()
        for fence, value in values.items()
    ]
    matching = figures["matching"]
    rows += [
        ("cancellation_matching", str(status), int(n), int(matching["size"].sum()), float(units))
        for status, (n, units) in matching.iterrows()
    ]
    sections, metrics, counts, bases, values = (list(column) for column in zip(*rows, strict=True))
    shares = [np.nan if c is None or not b else c / b for c, b in zip(counts, bases, strict=True)]
    return {
        "section": sections,
        "metric": metrics,
        "row_count": counts,
        "share": spark_round(shares, 6),
        "metric_value": values,
    }


# ---------------------------------------------------------------- clustering and customer marts (SPEC 9)


@dataclass
class Clustering:
    assigned: pd.DataFrame  # customer_id, cluster_id, cluster_name
    profiles: list[ClusterProfile]
    names: dict[int, str]
    sweep: dict[str, Any]  # seconds, points
    silhouette: float | None
    cost: float
    population: int


def cluster(rfm: pd.DataFrame, k: int, seed: int) -> Clustering:
    """SPEC 9 with scikit-learn: monetary > 0, log1p, standardised, KMeans(seed). The pipeline's k sweep
    (k = 2..10, cost and silhouette each), keeping the fit at k; ids by centroid (monetary desc, ...) and
    names from the project's pure helpers, as the pipeline."""
    population = rfm[rfm["cents"] > 0]
    features = np.log1p(population[["recency_days", "frequency", "monetary"]].to_numpy(dtype="float64"))
    scaler = StandardScaler().fit(features)
    scaled = scaler.transform(features)
    started = time.perf_counter()  # the sweep's time includes the silhouettes, as the floor's

    def fit(kk: int) -> tuple[KMeans, float | None]:
        model = KMeans(n_clusters=kk, random_state=seed, **KMEANS_PARAMS).fit(scaled)
        return model, squared_euclidean_silhouette(scaled, model.labels_)

    fits = {kk: fit(kk) for kk in sweep_ks(len(scaled))}
    model, silhouette = fits[k] if k in fits else fit(k)
    sweep = {
        "seconds": round(time.perf_counter() - started, 3),
        "points": [{"k": kk, "cost": float(m.inertia_), "silhouette": s} for kk, (m, s) in sorted(fits.items())],
    }
    # profiles_from_centers reads only the scaler's mean and std: sklearn's are mean_ and scale_.
    profiles = profiles_from_centers(
        model.cluster_centers_.tolist(), SimpleNamespace(mean=scaler.mean_, std=scaler.scale_)
    )
    names = name_clusters(profiles)
    by_raw = sorted(profiles, key=lambda p: p.raw_index)
    assigned = pd.DataFrame(
        {
            "customer_id": population["customer_id"].to_numpy(),
            "cluster_id": np.array([p.cluster_id for p in by_raw], dtype=np.int32)[model.labels_],
            "cluster_name": np.array([names[p.cluster_id] for p in by_raw], dtype=object)[model.labels_],
        }
    )
    return Clustering(assigned, profiles, names, sweep, silhouette, float(model.inertia_), len(population))


def write_ml_tables(
    writer: TableWriter, clustering: Clustering, k: int, seed: int, run_id: str, as_of: dt.date
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assigned, profiles = clustering.assigned, clustering.profiles
    writer.write(
        "customer_clusters",
        {
            **{c: assigned[c] for c in assigned.columns},
            "run_id": constant(run_id, len(assigned)),
            "algorithm": constant("kmeans", len(assigned)),
            "k": np.full(len(assigned), k, dtype=np.int32),
            "assigned_at": np.full(len(assigned), np.datetime64(now, "us")),
        },
    )
    sizes = assigned["cluster_id"].value_counts()
    writer.write(
        "cluster_centroids",
        {
            "run_id": [run_id] * len(profiles),
            "cluster_id": [p.cluster_id for p in profiles],
            "cluster_name": [clustering.names[p.cluster_id] for p in profiles],
            "customers": [int(sizes.get(p.cluster_id, 0)) for p in profiles],
            **{
                field: [getattr(p, field) for p in profiles]
                for field in (
                    "recency_days",
                    "frequency",
                    "monetary",
                    "scaled_recency",
                    "scaled_frequency",
                    "scaled_monetary",
                )
            },
        },
    )
    points = clustering.sweep["points"]
    writer.write(
        "k_sweep",
        {
            "run_id": [run_id] * len(points),
            "algorithm": ["kmeans"] * len(points),
            "k": [p["k"] for p in points],
            "cost": [p["cost"] for p in points],
            "silhouette": [p["silhouette"] for p in points],
            "is_chosen": [p["k"] == k for p in points],
        },
    )
    parameters = {"k": k, "seed": seed, **KMEANS_PARAMS, "sweep_k": [p["k"] for p in points]}
    writer.write(
        "model_runs",
        {
            "run_id": [run_id],
            "run_at": [now],
            "as_of_date": [as_of],
            "algorithm": ["kmeans"],
            "k": [k],
            "k_rule": ["fixed"],
            "seed": [seed],
            "silhouette": [clustering.silhouette],
            "cost": [clustering.cost],
            "customers": [clustering.population],
            "parameters": [json.dumps(parameters)],
            "model_path": [None],
        },
    )


def segment_actions() -> pd.DataFrame:
    """The seed segment_actions: segment_kind, segment, recommended_action."""
    return pd.read_csv(SEGMENT_ACTIONS, dtype=str, keep_default_na=False)


def _base_name(names: pd.Series) -> pd.Series:
    # Numbered cluster names ("Loyal 2") share the action of their base name.
    return names.str.replace(r" [0-9]+$", "", regex=True)


def dim_customers(rfm: pd.DataFrame, clustering: Clustering, run_id: str) -> pd.DataFrame:
    """RFM customers with their cluster ('Unclustered' outside the clustered population once any customer
    is clustered) and the recommended actions."""
    actions = segment_actions()
    by_kind = {
        kind: group.set_index("segment")["recommended_action"] for kind, group in actions.groupby("segment_kind")
    }
    customers = rfm.merge(clustering.assigned, on="customer_id", how="left")
    clustered = customers["cluster_id"].notna()
    customers["cluster_id"] = customers["cluster_id"].astype("Int32")
    customers["cluster_run_id"] = np.where(clustered, run_id, None)
    customers["cluster_algorithm"] = np.where(clustered, "kmeans", None)
    if len(clustering.assigned):
        customers["cluster_name"] = customers["cluster_name"].fillna("Unclustered")
    customers["rfm_recommended_action"] = customers["rfm_segment"].map(by_kind["rfm_segment"])
    customers["cluster_recommended_action"] = _base_name(customers["cluster_name"]).map(by_kind["cluster"])
    return customers


def _segments_by_kind(customers: pd.DataFrame) -> pd.DataFrame:
    """Each customer once as its RFM segment and, when it has a cluster name, once as its cluster."""
    no_cluster = pd.Series(pd.NA, index=customers.index, dtype="Int32")
    rfm = customers.assign(segment_kind="rfm_segment", segment=customers["rfm_segment"], cluster_id=no_cluster)
    named = customers[customers["cluster_name"].notna()]
    clusters = named.assign(segment_kind="cluster", segment=named["cluster_name"])
    return pd.concat([rfm, clusters], ignore_index=True)


def _shares(part: pd.Series, total: pd.Series) -> list[float | None]:
    return spark_round((part / total.replace(0, np.nan)).to_numpy(dtype="float64"), 4)


def _decimal_round(numerator: int, denominator: int, *scales: int) -> Decimal:
    """numerator / denominator rounded HALF_UP to each scale in turn, as Spark's decimal results are."""
    with localcontext() as context:
        context.prec = 60
        value = Decimal(numerator) / Decimal(denominator)
        for scale in scales:
            value = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        return value


def segment_summary(customers: pd.DataFrame) -> dict[str, Any]:
    """One row per RFM segment and per cluster: sizes, revenue, shares, averages, the action."""
    actions = segment_actions()
    summary = (
        _segments_by_kind(customers)
        .groupby(["segment_kind", "segment"])
        .agg(
            cluster_id=("cluster_id", "min"),
            customers=("customer_id", "size"),
            cents=("cents", "sum"),
            **{f"avg_{c}": (c, "mean") for c in ("recency_days", "frequency", "r_score", "f_score", "m_score")},
        )
        .reset_index()
    )
    summary["base"] = _base_name(summary["segment"])
    summary = summary.merge(actions.rename(columns={"segment": "base"}), on=["segment_kind", "base"], how="left")
    kind_total = summary.groupby("segment_kind")[["customers", "cents"]].transform("sum")
    pairs = list(
        zip(summary["cents"].tolist(), summary["customers"].tolist(), kind_total["cents"].tolist(), strict=True)
    )
    # avg(decimal(18,2)) is decimal(22,6), then rounded to cents.
    avg_cents = [int(_decimal_round(cents, 100 * n, 6, 2) * 100) for cents, n, _ in pairs]
    revenue_share = [float(_decimal_round(cents, total, 4)) if total else None for cents, _, total in pairs]
    return {
        **{c: summary[c] for c in summary.columns},
        "cluster_id": summary["cluster_id"].astype("Int32"),
        "customer_share": _shares(summary["customers"], kind_total["customers"]),
        "revenue": decimal_array(summary["cents"], 2, 28),
        "revenue_share": revenue_share,
        "avg_monetary": decimal_array(avg_cents, 2, 18),
        **{
            f"avg_{c}": spark_round(summary[f"avg_{c}"].to_numpy(dtype="float64"), 2)
            for c in ("recency_days", "frequency", "r_score", "f_score", "m_score")
        },
    }


def segment_by_country(customers: pd.DataFrame) -> dict[str, Any]:
    """Customers and revenue of each RFM segment and cluster by main country."""
    by_kind = _segments_by_kind(customers)
    by_kind["country"] = by_kind["main_country"].fillna("Unknown")
    cells = (
        by_kind.groupby(["segment_kind", "segment", "country"])
        .agg(customers=("customer_id", "size"), cents=("cents", "sum"))
        .reset_index()
    )
    segment_total = cells.groupby(["segment_kind", "segment"])["customers"].transform("sum")
    return {
        **{c: cells[c] for c in cells.columns},
        "revenue": decimal_array(cells["cents"], 2, 28),
        "share_of_segment_customers": _shares(cells["customers"], segment_total),
    }


# ---------------------------------------------------------------- the whole job


def run_pandas(
    paths: list[str],
    *,
    k: int = 4,
    seed: int = 42,
    as_of_date: str | None = None,
    iqr_k: float = 1.5,
    encoding: str = "utf-8",
    non_merchandise: tuple[str, ...] = NON_MERCHANDISE_CODES,
    tables_dir: str | Path | None = None,
) -> FloorResult:
    """The whole job in memory; with `tables_dir`, every table of bench/tables.OUTPUT_TABLES is written there
    as a Parquet folder."""
    lap = Laps()

    writer = TableWriter(tables_dir)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # naive UTC, as the timestamps written
    loaded, lines = load(paths, encoding, writer, loaded_at)
    rejected = loaded.rejected
    stats: dict[str, Any] = {"raw_rows": loaded.raw_rows, "rejected": len(rejected)}
    stats["rejected_by_reason"] = {r: int((rejected["reject_reason"] == r).sum()) for r in REJECT_REASONS}
    write_rejected(writer, rejected, loaded.files, loaded_at)
    lines = dedup_and_classify(lines, non_merchandise, stats)
    impute_prices(lines, stats)
    max_at = lines["invoice_date"].max()
    as_of = dt.date.fromisoformat(as_of_date) if as_of_date else max_at.date() + dt.timedelta(days=1)
    stats["as_of_date"] = as_of.isoformat()
    flag_window_and_scope(lines, as_of)
    lap("read_type_dedup_impute")

    fences = outlier_fences(lines, iqr_k, stats)
    lap("outliers")

    scope = match_cancellations(lines, stats)
    add_revenue(lines)
    lap("match")
    write_order_lines(writer, lines, loaded.files, as_of)
    lap("write_lines")

    writer.write("fct_orders", fct_orders(lines))
    rfm = customer_rfm(lines, scope, as_of)
    writer.write("customer_rfm", customer_columns(rfm, as_of))
    writer.write("product_performance", product_performance(lines, rfm))
    writer.write("cancellation_assumption_checks", cancellation_checks(scope, stats["cancellation_matching"]))
    figures = line_figures(lines)
    del lines, scope
    writer.write("data_quality_summary", data_quality_summary(stats, loaded, figures, fences))
    lap("line_marts_rfm_segments")

    run_id = f"pandas-{uuid.uuid4().hex[:8]}"
    clustering = cluster(rfm, k, seed)
    stats["k_sweep"] = clustering.sweep
    write_ml_tables(writer, clustering, k, seed, run_id, as_of)
    lap("kmeans")

    customers = dim_customers(rfm, clustering, run_id)
    writer.write("dim_customers", customer_columns(customers, as_of))
    writer.write("segment_summary", segment_summary(customers))
    writer.write("segment_by_country", segment_by_country(customers))
    lap("customer_marts")
    stats["timings_s"] = lap.seconds

    result_df = customers[
        ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]
    ].assign(segment=customers["rfm_segment"], cluster=customers["cluster_id"].astype("Int64"))
    sizes = clustering.assigned["cluster_id"].value_counts()
    return FloorResult(
        customers=len(rfm),
        total_monetary=int(rfm["cents"].sum()) / 100,
        segment_counts={str(s): int(c) for s, c in rfm["rfm_segment"].value_counts().items()},
        cluster_sizes=[int(sizes.get(i, 0)) for i in range(k)],
        stats=stats,
        customers_df=result_df,
    )
