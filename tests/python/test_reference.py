"""The hand-written PySpark reference (reference/floor.py) against hand-computed figures on a small
edge-case file. The dbt pipeline is checked against the same figures in test_edge_file.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.floor import run_floor
from reference.rules import spark_percentile, spark_round2

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
EDGE_ROWS = [
    # customer 100 (written as 100.0 once): lowercase code, full then partial cancellation, a duplicate
    "500001,85123a,HEART,10,2011-01-01 10:00:00,2.00,100.0,United Kingdom",
    "C500002,85123A,HEART,-4,2011-01-02 10:00:00,2.00,100,United Kingdom",
    "C500003,85123A,HEART,-10,2011-01-03 10:00:00,2.00,100,United Kingdom",
    "500004,22000,MUG,3,2011-01-05 10:00:00,5.00,100,United Kingdom",
    "500004,22000,MUG,3,2011-01-05 10:00:00,5.00,100,United Kingdom",
    "C500050,22000,MUG,1,2011-01-05 11:00:00,5.00,100,United Kingdom",  # C with qty >= 0: no measure
    # customer 200: cancellation with no earlier purchase, then a zero price with a reference (mode 4.00)
    "C500010,22000,MUG,-2,2011-01-01 09:00:00,5.00,200,France",
    "500011,22000,MUG,2,2011-01-02 09:00:00,0,200,France",
    # customer 300: 22000 at 4.00 twice; 33000 at 3.00 and 1.50 (a tie); 44000 only ever at 0
    "500020,22000,MUG,1,2011-01-03 09:00,4.00,300,Spain",
    "500021,22000,MUG,1,1/4/2011 9:00,4.00,300,Spain",
    "500022,33000,BOX,1,2011-01-04 09:00:00,3.00,300,Spain",
    "500023,33000,BOX,1,2011-01-05 09:00:00,1.50,300,Spain",
    "500024,44000,FREEBIE,5,2011-01-05 09:00:00,0,300,Spain",
    # customer 400: zero price on the tie code (-> 1.50), postage, an A adjustment, a line with no
    # customer filled from its invoice, and a quantity written 3.0
    "500030,33000,BOX,2,2011-01-06 09:00:00,0,400,Germany",
    "500030,POST,POSTAGE,1,2011-01-06 09:00:00,18,400,Germany",
    "500030,22000,MUG,1,2011-01-06 09:00:00,4.00,,Germany",
    "A500031,33000,Adjust bad debt,1,2011-01-06 09:00:00,100,400,Germany",
    "500032,22000,MUG,3.0,2011-01-07 09:00:00,4.00,400,Germany",
    # customer 500: only a cancellation, so no RFM row
    "C500040,22000,MUG,-1,2011-01-03 09:00:00,4.00,500,Germany",
    # rejected rows, one per reason
    ",22000,MUG,1,2011-01-03 09:00:00,4.00,600,Germany",
    "500060,,MUG,1,2011-01-03 09:00:00,4.00,600,Germany",
    "500061,22000,MUG,abc,2011-01-03 09:00:00,4.00,600,Germany",
    "500062,22000,MUG,1,not a date,4.00,600,Germany",
    "500063,22000,MUG,1,2011-01-03 09:00:00,x,600,Germany",
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
    "500064,22000,MUG,1,2011-01-03 09:00:00,-4.00,600,Germany",
    "500065,22000,MUG,1,2011-01-03 09:00:00,4.00,600.5,Germany",
]
# Hand-computed (as of 2011-01-08, the day after the latest kept line):
#  100: 10*2 + 3*5 - 4*2 (full) - 6*2 (partial: 6 of 10 units matched) = 15.00
#  200: 2 * 4.00 (mode of 22000) ; the -2 with no earlier purchase is unmatched and dropped = 8.00
#  300: 4 + 4 + 3 + 1.5 + 5 * 0 (no reference price) = 12.50
#  400: 2 * 1.50 (tie -> lowest) + 1 * 4.00 (filled customer) + 3 * 4.00 = 19.00
EXPECTED_MONETARY = {"100": 15.0, "200": 8.0, "300": 12.5, "400": 19.0}
EXPECTED_FREQUENCY = {"100": 2, "200": 1, "300": 5, "400": 2}
EXPECTED_RECENCY = {"100": 3, "200": 6, "300": 3, "400": 1}
EXPECTED_STATS = {
    "raw_rows": len(EDGE_ROWS),
    "rejected": 8,
    "duplicates": 1,
    "kept": len(EDGE_ROWS) - 9,
    "customer_imputed_lines": 1,
    "price_imputed_lines": 2,
    "no_reference_price_lines": 1,
    "as_of_date": "2011-01-08",
}
EXPECTED_MATCHING = {"cancellation_lines": 4, "fully_matched": 1, "partially_matched": 1, "unmatched": 2}


@pytest.fixture(scope="module")
def edge_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench_edge") / "edge.csv"
    path.write_text("\n".join([HEADER, *EDGE_ROWS]) + "\n", encoding="utf-8")
    return path


def _check_edge(result, per_customer: dict[str, tuple[float, int, int]]) -> None:
    assert result.customers == len(EXPECTED_MONETARY)
    assert result.total_monetary == pytest.approx(sum(EXPECTED_MONETARY.values()), abs=1e-9)
    assert {c: m for c, (m, _, _) in per_customer.items()} == EXPECTED_MONETARY
    assert {c: f for c, (_, f, _) in per_customer.items()} == EXPECTED_FREQUENCY
    assert {c: r for c, (_, _, r) in per_customer.items()} == EXPECTED_RECENCY
    for key, value in EXPECTED_STATS.items():
        assert result.stats[key] == value, key
    assert result.stats["rejected_by_reason"] == dict.fromkeys(result.stats["rejected_by_reason"], 1)
    matching = result.stats["cancellation_matching"]
    assert {key: matching[key] for key in EXPECTED_MATCHING} == EXPECTED_MATCHING
    assert sum(result.segment_counts.values()) == len(EXPECTED_MONETARY)
    assert sum(result.cluster_sizes) == len(EXPECTED_MONETARY)
    # The pipeline's sweep, k = 2..min(10, customers - 1): four customers with monetary > 0.
    assert [point["k"] for point in result.stats["k_sweep"]["points"]] == [2, 3]


def test_floor_edge_cases(spark, edge_csv):
    result = run_floor(spark, [str(edge_csv)], k=2, seed=42)
    rows = result.customers_df.select("customer_id", "monetary", "frequency", "recency_days").collect()
    _check_edge(result, {r[0]: (r[1], r[2], r[3]) for r in rows})


def test_as_of_date_limits_the_window(spark, edge_csv):
    # 2011-01-05 leaves out everything from the 5th on: customer 400 disappears, 100 keeps 20 - 8 - 12,
    # 300 keeps 4 + 4 + 3.
    expected = {"100": 0.0, "200": 8.0, "300": 11.0}
    floor = run_floor(spark, [str(edge_csv)], k=2, seed=42, as_of_date="2011-01-05")
    assert dict(floor.customers_df.select("customer_id", "monetary").collect()) == expected
    assert floor.stats["as_of_date"] == "2011-01-05"


def test_percentile_matches_spark(spark):
    values = [1.0, 2.0, 2.0, 3.5, 10.0, 10.0, 10.0, -4.0]
    hist: dict[float, int] = {}
    for v in values:
        hist[v] = hist.get(v, 0) + 1
    df = spark.createDataFrame([(v,) for v in values], "v double")
    for p in (0.25, 0.5, 0.75, 0.9):
        expected = df.selectExpr(f"percentile(v, {p})").first()[0]
        assert spark_percentile(list(hist.items()), p) == expected


def test_round_matches_spark_half_up(spark):
    values = [2.675, 1.005, -2.675, 0.125, 1234.565]
    df = spark.createDataFrame([(v,) for v in values], "v double")
    expected = [row[0] for row in df.selectExpr("round(v, 2)").collect()]
    assert [spark_round2(v) for v in values] == expected
