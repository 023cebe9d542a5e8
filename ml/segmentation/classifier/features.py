"""Per-customer features for the segment classifier, built in Spark SQL from the marts.

Deliberately excluded: recency_days, frequency, monetary, the r/f/m scores, the RFM cell and
avg_order_value (monetary / frequency), because they define the targets. What remains describes who the
customer is and how they shop: country, the first order, product variety, basket shape, tenure, the share
of non-merchandise lines and the cancellation rate.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from segmentation.errors import SegmentationError

# Numeric features, in the order the assembler uses; heavy-tailed counts and money are log1p-ed in SQL so
# that the logistic regression is not dominated by a few wholesale buyers.
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
REQUIRED_TABLES = ("marts.dim_customers", "marts.fct_orders", "marts.fct_order_lines")

CUSTOMER_FEATURES_SQL = """
with
customers as (
    select
        customer_id,
        rfm_segment,
        cluster_name,
        coalesce(main_country, 'Unknown') as main_country,
        tenure_days,
        distinct_products,
        cancellation_rate
    from marts.dim_customers
),

ranked_orders as (
    select
        customer_id,
        line_count,
        total_quantity,
        gross_revenue,
        row_number() over (partition by customer_id order by invoice_date asc, invoice_no asc) as order_rank
    from marts.fct_orders
    where invoice_kind = 'purchase' and is_in_window and customer_id is not null
),

first_orders as (
    select customer_id, line_count, total_quantity, gross_revenue
    from ranked_orders
    where order_rank = 1
),

line_stats as (
    select
        customer_id,
        count(*) as kept_lines,
        count_if(not is_merchandise) as non_merchandise_lines,
        count_if(is_merchandise_purchase) as merchandise_purchase_lines,
        sum(case when is_merchandise_purchase then quantity else 0 end) as merchandise_units,
        count(distinct case when is_merchandise_purchase then invoice_no end) as purchase_invoices
    from marts.fct_order_lines
    where customer_id is not null and is_in_window
    group by customer_id
)

select
    customers.customer_id,
    customers.rfm_segment,
    customers.cluster_name,
    customers.main_country,
    log1p(greatest(coalesce(first_orders.line_count, 0), 0)) as log_first_order_lines,
    log1p(greatest(coalesce(first_orders.total_quantity, 0), 0)) as log_first_order_units,
    log1p(greatest(coalesce(cast(first_orders.gross_revenue as double), 0), 0)) as log_first_order_value,
    log1p(customers.distinct_products) as log_distinct_products,
    coalesce(line_stats.merchandise_purchase_lines / nullif(line_stats.purchase_invoices, 0), 0)
        as avg_basket_lines,
    log1p(greatest(coalesce(line_stats.merchandise_units / nullif(line_stats.purchase_invoices, 0), 0), 0))
        as log_avg_basket_units,
    cast(customers.tenure_days as double) as tenure_days,
    coalesce(line_stats.non_merchandise_lines / nullif(line_stats.kept_lines, 0), 0) as non_merchandise_share,
    cast(coalesce(customers.cancellation_rate, 0) as double) as cancellation_rate
from customers
left join first_orders
    on customers.customer_id = first_orders.customer_id
left join line_stats
    on customers.customer_id = line_stats.customer_id
"""


def customer_features(spark: SparkSession) -> DataFrame:
    """One row per RFM customer: both targets and every feature (numeric columns are never null)."""
    missing = [name for name in REQUIRED_TABLES if not spark.catalog.tableExists(name)]
    if missing:
        raise SegmentationError(
            f"the classifier needs {', '.join(missing)}; run `segmentation run` (or dbt build) first"
        )
    return spark.sql(CUSTOMER_FEATURES_SQL)


def labelled_rows(features: DataFrame, target: str) -> DataFrame:
    """The customers that carry the target: every RFM customer for rfm_segment; clustered customers only
    (not 'Unclustered', not null) for the cluster target."""
    column = TARGET_COLUMNS[target]
    rows = features.where(f"{column} is not null")
    if target == "cluster":
        rows = rows.where(f"{column} != 'Unclustered'")
    return rows.withColumnRenamed(column, "target_label")
