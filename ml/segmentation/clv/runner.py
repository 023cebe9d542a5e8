"""The CLV step of a run (SPEC 11): fit, predict, backtest, write.

Reads marts.customer_clv_summary (built by dbt). The fits see the summary compressed to its distinct rows
with their customer counts, collected to the driver (a few thousand to a few hundred thousand rows, however
many customers); the predictions are computed in Spark, partition by partition (pandas UDF), never on the
driver; the backtest's metrics come from the distinct (summary, holdout) rows with their counts.

Writes ml.clv_model_params (both fits), ml.customer_predictions (the as-of date's customers),
ml.clv_backtest (model and baseline) and ml.clv_calibration (the calibration plot's points). Nothing is
written until every number is computed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from segmentation import ml_tables
from segmentation.clv import backtest as backtesting
from segmentation.clv import models
from segmentation.clv.backtest import Metrics
from segmentation.errors import SegmentationError

SUMMARY_TABLE = "marts.customer_clv_summary"
PREDICTION_COLUMNS = ("p_alive", "expected_purchases_90d", "expected_avg_value", "clv_12m")
PREDICTION_HORIZON_DAYS = 90  # SPEC 11: expected_purchases_90d


@dataclass
class ClvResult:
    run_id: str
    as_of_date: date
    calibration_date: date
    customers: int
    bgnbd: models.Fit
    gamma_gamma: models.Fit
    calibration_bgnbd: models.Fit
    total_clv_12m: float
    backtest: list[Metrics] = field(default_factory=list)

    @property
    def at_boundary(self) -> bool:
        return bool(self.bgnbd.at_boundary or self.gamma_gamma.at_boundary or self.calibration_bgnbd.at_boundary)

    def describe(self) -> str:
        bg = ", ".join(f"{k} {v:.4g}" for k, v in self.bgnbd.params.items())
        gg = ", ".join(f"{k} {v:.4g}" for k, v in self.gamma_gamma.params.items())
        lines = [
            f"CLV run {self.run_id} at {self.as_of_date}: {self.customers:,} customers, "
            f"sum of clv_12m {self.total_clv_12m:,.2f}",
            f"  BG/NBD: {bg}; log-likelihood {self.bgnbd.log_likelihood:,.1f}; {self.bgnbd.note()}",
            f"  Gamma-Gamma: {gg}; log-likelihood {self.gamma_gamma.log_likelihood:,.1f}; {self.gamma_gamma.note()}",
        ]
        if self.at_boundary:
            lines.append(
                "  note: a fit stopped at a parameter bound: this history does not identify dropout (one year of a "
                "shop is too short, SPEC 11); P(alive) is then about 1 and the predictions lean on purchase "
                "rates alone. Two years of data give an interior fit."
            )
        lines.append(
            f"  backtest, fitted at {self.calibration_date}, predicting [{self.calibration_date}, {self.as_of_date}):"
        )
        lines += [f"    {m.describe()}" for m in self.backtest]
        return "\n".join(lines)


def run_clv(spark: SparkSession) -> ClvResult:
    summary = _read_summary(spark)
    dates = {row["summary_role"]: row["summary_date"] for row in
             summary.select("summary_role", "summary_date").distinct().collect()}
    if "as_of" not in dates or "calibration" not in dates:
        raise SegmentationError(f"{SUMMARY_TABLE} lacks the as-of or the calibration date; rebuild the marts")
    as_of_rows = summary.where(F.col("summary_role") == "as_of")
    calibration_rows = summary.where(F.col("summary_role") == "calibration")

    bgnbd = _fit_bgnbd(as_of_rows)
    gamma_gamma = _fit_gamma_gamma(as_of_rows)
    calibration_bgnbd = _fit_bgnbd(calibration_rows)
    holdout_days = (dates["as_of"] - dates["calibration"]).days
    histogram = _holdout_histogram(calibration_rows)
    backtest = backtesting.backtest_metrics(histogram, calibration_bgnbd, holdout_days)
    curve = backtesting.calibration_curve(
        histogram, backtesting.predictions(histogram, calibration_bgnbd, holdout_days)
    )

    now = datetime.now(UTC)
    run_id = f"clv-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    predictions = predict(as_of_rows, bgnbd, gamma_gamma).select(
        F.lit(run_id).alias("run_id"),
        F.col("summary_date").alias("as_of_date"),
        "customer_id",
        "frequency_repeat",
        "recency_period",
        F.col("T"),
        "avg_repeat_value",
        *PREDICTION_COLUMNS,
        F.lit(now).alias("predicted_at"),
    )
    ml_tables.ensure_tables(spark)
    ml_tables.overwrite(predictions, "customer_predictions")
    totals = spark.table("ml.customer_predictions").agg(
        F.count(F.lit(1)).alias("customers"), F.sum("clv_12m").alias("clv")
    ).first()
    params = [
        (run_id, fit_name, summary_date, fit.model, name, value, fit.log_likelihood, fit.customers,
         name in fit.at_boundary, fit.note(), now)
        for fit_name, summary_date, fit in (
            ("as_of", dates["as_of"], bgnbd),
            ("as_of", dates["as_of"], gamma_gamma),
            ("calibration", dates["calibration"], calibration_bgnbd),
        )
        for name, value in fit.params.items()
    ]
    ml_tables.append(ml_tables.rows_frame(spark, params, "clv_model_params"), "clv_model_params")
    tested = [(run_id, dates["calibration"], dates["as_of"], m.method, m.customers, m.actual, m.predicted, m.mae,
               m.spearman, m.top10_capture, now) for m in backtest]
    ml_tables.append(ml_tables.rows_frame(spark, tested, "clv_backtest"), "clv_backtest")
    points = [(run_id, dates["calibration"], *point, now) for point in curve]
    ml_tables.append(ml_tables.rows_frame(spark, points, "clv_calibration"), "clv_calibration")
    return ClvResult(
        run_id=run_id,
        as_of_date=dates["as_of"],
        calibration_date=dates["calibration"],
        customers=int(totals["customers"]),
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        calibration_bgnbd=calibration_bgnbd,
        total_clv_12m=float(totals["clv"] or 0.0),
        backtest=backtest,
    )


def _read_summary(spark: SparkSession) -> DataFrame:
    if not spark.catalog.tableExists(SUMMARY_TABLE):
        raise SegmentationError(f"{SUMMARY_TABLE} does not exist; build the marts first (dbt build)")
    return spark.table(SUMMARY_TABLE)


def _fit_bgnbd(rows: DataFrame) -> models.Fit:
    """BG/NBD on the distinct (frequency_repeat, recency_period, T) rows with their customer counts."""
    distinct = rows.groupBy("frequency_repeat", "recency_period", "T").count().toPandas()
    if distinct.empty:
        raise SegmentationError("no customer to fit BG/NBD on")
    return models.fit_bgnbd(distinct["frequency_repeat"], distinct["recency_period"], distinct["T"],
                            distinct["count"])


def _fit_gamma_gamma(rows: DataFrame) -> models.Fit:
    """Gamma-Gamma on the distinct (frequency_repeat, avg_repeat_value) rows of customers with a repeat
    purchase day worth more than 0 (SPEC 11)."""
    distinct = (
        rows.where("frequency_repeat > 0 and avg_repeat_value > 0")
        .groupBy("frequency_repeat", "avg_repeat_value")
        .count()
        .toPandas()
    )
    if len(distinct) < 2:
        raise SegmentationError("too few customers with a repeat purchase to fit Gamma-Gamma")
    return models.fit_gamma_gamma(distinct["frequency_repeat"], distinct["avg_repeat_value"], distinct["count"])


def _holdout_histogram(calibration_rows: DataFrame) -> pd.DataFrame:
    """The calibration customers compressed to distinct (x, t_x, T, actual holdout days) rows with counts."""
    return (
        calibration_rows.groupBy("frequency_repeat", "recency_period", "T", "holdout_purchase_days")
        .count()
        .toPandas()
    )


_PREDICTIONS = StructType([StructField(name, DoubleType()) for name in PREDICTION_COLUMNS])


def predict(rows: DataFrame, bgnbd: models.Fit, gamma_gamma: models.Fit) -> DataFrame:
    """The four predictions of SPEC 11 for every row, partition by partition in Spark."""
    bg = bgnbd.values(models.BG_NBD)
    gg = gamma_gamma.values(models.GAMMA_GAMMA)

    def score(x: pd.Series, t_x: pd.Series, t: pd.Series, m: pd.Series) -> pd.DataFrame:
        x, t_x, t = (s.to_numpy(dtype=float) for s in (x, t_x, t))
        value = models.expected_average_value(gg, x, m.to_numpy(dtype=float, na_value=np.nan))
        return pd.DataFrame(
            {
                "p_alive": models.p_alive(bg, x, t_x, t),
                "expected_purchases_90d": models.expected_purchases(bg, PREDICTION_HORIZON_DAYS, x, t_x, t),
                "expected_avg_value": value,
                "clv_12m": models.clv(bg, value, x, t_x, t),
            }
        )

    scored = F.pandas_udf(score, _PREDICTIONS)(  # type: ignore[call-overload]
        F.col("frequency_repeat").cast("double"),
        F.col("recency_period").cast("double"),
        F.col("T").cast("double"),
        F.col("avg_repeat_value").cast("double"),
    )
    return rows.withColumn("prediction", scored).select("*", *[f"prediction.{c}" for c in PREDICTION_COLUMNS]).drop(
        "prediction"
    )
