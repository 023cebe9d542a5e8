"""SPEC 10: the one-pass history equals separate runs. For three dates of the shared sample run's calendar,
dbt rebuilds customer_rfm with `--vars as_of_date: d` (a separate run's models, whose own calendar and
intervals end at d), and every customer's row - recency, frequency, monetary, the scores ranked within the
date, the cell and the named segment - must equal the history's row at d. The module then rebuilds the run
date again, so the warehouse is left as the shared run made it."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.rebuilds_sample]

COMPARED = ["customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
            "rfm_cell", "rfm_segment", "last_purchase_at"]


def _rebuild_customer_rfm(settings, as_of_date: str | None) -> None:
    from segmentation.dbt import run_dbt

    run_dbt(settings, ["run", "--select", "+customer_rfm", "--quiet"],
            vars_={"as_of_date": as_of_date} if as_of_date else None)


@pytest.fixture(scope="module")
def separate_runs(spark, settings, pipeline_run):
    calendar = spark.table("marts.history_calendar").orderBy("as_of_date").toPandas()
    earlier = calendar.loc[~calendar["is_run_as_of_date"], "as_of_date"].astype(str).tolist()
    # The first date (few customers, ties everywhere), one in the middle, the last before the run date.
    dates = [earlier[0], earlier[len(earlier) // 2], earlier[-1]]
    history = spark.table("marts.customer_rfm_history").toPandas()
    history["as_of_date"] = history["as_of_date"].astype(str)
    before = _fingerprint(spark)
    runs: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    try:
        for date in dates:
            _rebuild_customer_rfm(settings, date)
            separate = spark.table("marts.customer_rfm").select(*COMPARED).toPandas()
            runs[date] = (history[history["as_of_date"] == date][COMPARED], separate)
    finally:
        _rebuild_customer_rfm(settings, None)
    return {"runs": runs, "before": before, "after": _fingerprint(spark)}


def _fingerprint(spark) -> tuple:
    row = spark.table("marts.customer_rfm").selectExpr(
        "count(*)", "round(sum(monetary), 2)", "sum(hash(customer_id, rfm_cell, rfm_segment))").first()
    return tuple(row)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("customer_id").reset_index(drop=True)
    frame["monetary"] = frame["monetary"].astype(float).round(2)
    return frame


def test_three_dates_are_three_different_populations(separate_runs):
    assert len(separate_runs["runs"]) == 3
    sizes = [len(separate) for _, separate in separate_runs["runs"].values()]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # customers accumulate, so the dates really differ


@pytest.mark.parametrize("position", [0, 1, 2])
def test_history_row_equals_a_separate_run_at_that_date(separate_runs, position):
    date = sorted(separate_runs["runs"])[position]
    in_history, separate = (_sorted(frame) for frame in separate_runs["runs"][date])
    assert len(separate) > 0
    pd.testing.assert_frame_equal(in_history, separate, check_dtype=False)


def test_the_run_date_is_restored(separate_runs, pipeline_run):
    assert separate_runs["after"] == separate_runs["before"]
    assert separate_runs["after"][0] == pipeline_run.customers
