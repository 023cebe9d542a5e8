"""Per-customer features for the segment classifier: the mart marts.customer_features (dbt builds and tests
it), read here with the columns the estimators use.

Deliberately excluded: recency_days, frequency, monetary, the r/f/m scores, the RFM cell and
avg_order_value (monetary / frequency), because they define the targets. What remains describes who the
customer is and how they shop: country, the first order, product variety, basket shape, tenure, the share
of non-merchandise lines and the cancellation rate.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from segmentation.errors import SegmentationError

# Numeric features, in the order the assembler uses (columns of marts.customer_features).
NUMERIC_FEATURES: tuple[str, ...] = (
    "log_first_order_lines",
    "log_first_order_units",
    "log_first_order_value",
    "log_distinct_products",
    "avg_basket_lines",
    "log_avg_basket_units",
    "tenure_days",
    "non_merchandise_share",
    "cancellation_rate",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("main_country",)
TARGET_COLUMNS: dict[str, str] = {"cluster": "cluster_name", "rfm_segment": "rfm_segment"}
FEATURES_TABLE = "marts.customer_features"


def customer_features(spark: SparkSession) -> DataFrame:
    """One row per RFM customer: both targets and every feature (numeric columns are never null)."""
    if not spark.catalog.tableExists(FEATURES_TABLE):
        raise SegmentationError(f"the classifier needs {FEATURES_TABLE}; run `segmentation run` (or dbt build) first")
    return spark.table(FEATURES_TABLE).select(
        "customer_id", *TARGET_COLUMNS.values(), *CATEGORICAL_FEATURES, *NUMERIC_FEATURES
    )


def labelled_rows(features: DataFrame, target: str) -> DataFrame:
    """The customers that carry the target: every RFM customer for rfm_segment; clustered customers only
    (not 'Unclustered', not null) for the cluster target."""
    column = TARGET_COLUMNS[target]
    rows = features.where(f"{column} is not null")
    if target == "cluster":
        rows = rows.where(f"{column} != 'Unclustered'")
    return rows.withColumnRenamed(column, "target_label")
