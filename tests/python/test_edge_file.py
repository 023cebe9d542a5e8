"""The dbt models on the hand-computed edge-case file of test_reference.py (issue 25): the same figures the
hand-written reference must give, now from dbt. In the shared test warehouse, after every reader of the
sample run: the edge file replaces raw.transactions, dbt rebuilds the RFM chain and the line mart (at the
default as-of date, then with the as_of_date var), and the module restores the sample run's raw table and
models, so the warehouse is left as the shared run made it."""

from __future__ import annotations

import pytest

from test_reference import (
    EDGE_ROWS,
    EXPECTED_FREQUENCY,
    EXPECTED_MATCHING,
    EXPECTED_MONETARY,
    EXPECTED_RECENCY,
    EXPECTED_STATS,
    HEADER,
)

pytestmark = [pytest.mark.slow, pytest.mark.rebuilds_sample]

REBUILT = "+customer_rfm +fct_order_lines"


def _build(settings, as_of_date: str | None = None) -> None:
    from segmentation.dbt import run_dbt

    run_dbt(settings, ["run", "--select", REBUILT, "--quiet"],
            vars_={"as_of_date": as_of_date} if as_of_date else None)


def _ingest(spark, path) -> None:
    from segmentation.ingest import ingest_files

    ingest_files(spark, [path], replace_all=True)


def _customers(spark) -> dict[str, tuple]:
    rows = spark.sql("select customer_id, cast(monetary as double), frequency, recency_days, "
                     "cast(as_of_date as string) from marts.customer_rfm").collect()
    return {r[0]: tuple(r[1:]) for r in rows}


def _fingerprint(spark) -> tuple:
    return tuple(spark.sql(
        "select (select count(*) from raw.transactions), (select count(*) from marts.fct_order_lines), "
        "(select round(sum(monetary), 2) from marts.customer_rfm), "
        "(select sum(hash(customer_id, rfm_cell, rfm_segment)) from marts.customer_rfm)").first())


@pytest.fixture(scope="module")
def edge_build(spark, settings, pipeline_run, tmp_path_factory):
    from segmentation.pipeline import DEFAULT_SAMPLE

    edge = tmp_path_factory.mktemp("edge_dbt") / "edge.csv"
    edge.write_text("\n".join([HEADER, *EDGE_ROWS]) + "\n", encoding="utf-8")
    before = _fingerprint(spark)
    found: dict[str, object] = {}
    try:
        _ingest(spark, edge)
        _build(settings)
        found["customers"] = _customers(spark)
        found["fates"] = {r[0]: r[1] for r in spark.sql(
            "select row_fate, count(*) from staging.stg_online_retail__transaction_lines group by 1").collect()}
        found["reasons"] = {r[0]: r[1] for r in spark.sql(
            "select reject_reason, count(*) from staging.stg_online_retail__transaction_lines "
            "where reject_reason is not null group by 1").collect()}
        found["lines"] = spark.sql(
            "select count_if(is_customer_imputed), count_if(price_imputation_status = 'imputed'), "
            "count_if(price_imputation_status = 'no_reference_price'), count(match_status), "
            "count_if(match_status = 'full'), count_if(match_status = 'partial'), count_if(match_status = 'none') "
            "from marts.fct_order_lines").first()
        _build(settings, "2011-01-05")
        found["customers_at_01_05"] = _customers(spark)
    finally:
        _ingest(spark, settings.project_dir / DEFAULT_SAMPLE)
        _build(settings)
    found["restored"] = _fingerprint(spark) == before
    return found


def test_dbt_rfm_equals_the_hand_computed_figures(edge_build):
    # Hand-computed in test_reference.py, where the hand-written reference is held to the same figures.
    expected = {customer: (EXPECTED_MONETARY[customer], EXPECTED_FREQUENCY[customer], EXPECTED_RECENCY[customer],
                           EXPECTED_STATS["as_of_date"]) for customer in EXPECTED_MONETARY}
    assert edge_build["customers"] == expected


def test_dbt_row_fates_and_reasons_equal_the_hand_counts(edge_build):
    fates = edge_build["fates"]
    assert sum(fates.values()) == EXPECTED_STATS["raw_rows"]
    assert (fates.get("rejected"), fates.get("duplicate"), fates.get("kept")) == (
        EXPECTED_STATS["rejected"], EXPECTED_STATS["duplicates"], EXPECTED_STATS["kept"])
    assert edge_build["reasons"] == dict.fromkeys(edge_build["reasons"], 1)  # one row per reason
    assert len(edge_build["reasons"]) == EXPECTED_STATS["rejected"]


def test_dbt_imputation_and_matching_equal_the_hand_counts(edge_build):
    customer_imputed, price_imputed, no_reference, cancellations, full, partial, unmatched = edge_build["lines"]
    assert (customer_imputed, price_imputed, no_reference) == (
        EXPECTED_STATS["customer_imputed_lines"], EXPECTED_STATS["price_imputed_lines"],
        EXPECTED_STATS["no_reference_price_lines"])
    assert {"cancellation_lines": cancellations, "fully_matched": full, "partially_matched": partial,
            "unmatched": unmatched} == EXPECTED_MATCHING


def test_dbt_as_of_date_var_limits_the_window(edge_build):
    # As in test_reference.py: 2011-01-05 leaves out everything from the 5th on.
    at_date = edge_build["customers_at_01_05"]
    assert {c: v[0] for c, v in at_date.items()} == {"100": 0.0, "200": 8.0, "300": 11.0}
    assert {v[3] for v in at_date.values()} == {"2011-01-05"}


def test_the_sample_run_is_restored(edge_build):
    assert edge_build["restored"]
