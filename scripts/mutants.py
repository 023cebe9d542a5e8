"""The mutants `make mutants` runs (run_mutants.py): one realistic one-line bug per rule, and the fast check
that must fail when it is there. Issue 25's table of bugs that once passed every test is rows M01-M08."""

from __future__ import annotations

from dataclasses import dataclass

UNIT = "test_type:unit"  # every dbt unit test: seconds, against a built warehouse


@dataclass(frozen=True)
class Mutant:
    id: str
    kind: str  # dbt | seed | pytest
    rule: str
    file: str
    old: str
    new: str
    check: str  # a dbt selector, or a pytest path
    describe: str
    check_seed: str = ""
    every: bool = False  # replace every occurrence (one rule written twice in one model)


MUTANTS = [
    Mutant("M01", "seed", "segment rule priority (8)", "seeds/rfm_segment_rules.csv",
           "6,Can't Lose Them,1,2,3,4,4,5\n7,At Risk,1,2,2,5,4,5",
           "6,At Risk,1,2,2,5,4,5\n7,Can't Lose Them,1,2,3,4,4,5",
           "assert_segment_rules_seed_is_spec_8", "priorities 6 and 7 swapped", check_seed="rfm_segment_rules"),
    Mutant("M02", "dbt", "cancellation revenue (5, 7)", "models/intermediate/int_transaction_lines_enriched.sql",
           "then -matched_units * unit_price\n                else 0\n            end as decimal(38, 6)\n"
           "        ) as net_revenue,",
           "then quantity * unit_price\n                else 0\n            end as decimal(38, 6)\n"
           "        ) as net_revenue,",
           UNIT, "cancellations subtract quantity x price, not matched units"),
    Mutant("M03", "dbt", "IQR fences (6)", "models/intermediate/int_outlier_fences.sql",
           "q3 + {{ iqr_k }} * (q3 - q1) as upper_fence", "q1 + {{ iqr_k }} * (q3 - q1) as upper_fence",
           UNIT, "upper fence built from Q1"),
    Mutant("M04", "dbt", "matching key order (5)", "macros/matching_key_window.sql",
           "order by invoice_date, {{ kind_order }}, invoice_no,", "order by invoice_date, invoice_no,",
           UNIT, "purchases no longer before cancellations at one timestamp"),
    Mutant("M05", "dbt", "matching scope (5)", "models/intermediate/int_transaction_lines_matched.sql",
           "            is_merchandise\n            and customer_id is not null",
           "            customer_id is not null", UNIT, "non-merchandise lines in the matching scope"),
    Mutant("M06", "dbt", "mode price (4)", "models/intermediate/int_stock_code_reference_prices.sql",
           "and unit_price > 0", "and unit_price > 0 and customer_id is not null",
           UNIT, "mode price only from known customers"),
    Mutant("M07", "dbt", "as-of date (7)", "models/intermediate/int_analysis_window.sql",
           "date_add(to_date(max(invoice_date)), 1)", "to_date(max(invoice_date))",
           UNIT, "default as-of date without the +1 day"),
    Mutant("M08", "dbt", "duplicates (3)", "models/staging/online_retail/stg_online_retail__transaction_lines.sql",
           "invoice_no, stock_code, raw_description, quantity,", "invoice_no, stock_code, quantity,",
           UNIT, "duplicate key ignores description"),
    Mutant("M09", "dbt", "scores (8)", "macros/rfm_score.sql", "(rank() over", "(dense_rank() over",
           UNIT, "dense_rank instead of rank"),
    Mutant("M10", "dbt", "history accumulation (10)", "models/intermediate/int_customer_rfm_history.sql",
           "        rows between unbounded preceding and current row",
           "        rows between 1 preceding and current row", UNIT, "totals over the last two intervals only"),
    Mutant("M11", "dbt", "history population (10)", "models/intermediate/int_customer_rfm_history.sql",
           "on first_intervals.first_as_of_date <= calendar.as_of_date",
           "on first_intervals.first_as_of_date < calendar.as_of_date", UNIT,
           "a customer missing from the date of their first purchase"),
    Mutant("M12", "dbt", "monthly calendar (10)", "models/intermediate/int_history_calendar.sql",
           "add_months(trunc(analysis_window.first_invoice_date, 'MM'), 1)",
           "trunc(analysis_window.first_invoice_date, 'MM')", UNIT,
           "calendar starts on the first purchase's own month", every=True),
    Mutant("M13", "dbt", "transitions (10)", "models/marts/history/segment_transitions.sql",
           "coalesce(departed.segment, 'New to file')", "coalesce(departed.segment, arrived.segment)",
           UNIT, "new customers counted as staying in their segment"),
    Mutant("M14", "dbt", "CLV summary: no leak (11)", "models/intermediate/int_customer_purchase_days.sql",
           "coalesce(key_matched_before_date.matched_units, 0) - scoped_lines.key_units_purchased_before",
           "coalesce(key_matched_before_date.matched_units, 0)", UNIT,
           "a return cancels every purchase line of its key, not first-in first-out"),
    Mutant("M20", "dbt", "capped values var (6)", "models/intermediate/int_customer_rfm_history.sql",
           "'net_revenue_capped' if var('rfm_use_capped_values', false) else 'net_revenue'", "'net_revenue'",
           UNIT, "rfm_use_capped_values ignored"),
    Mutant("M15", "pytest", "default k rule (9)", "ml/segmentation/clustering/config.py",
           'DEFAULT_K_RULE = "elbow"', 'DEFAULT_K_RULE = "silhouette"',
           "tests/python/test_clustering_units.py", "default k by silhouette"),
    Mutant("M16", "pytest", "P(alive) (11)", "ml/segmentation/clv/models.py",
           "log_odds_dead = np.log(a) - np.log(b + np.maximum(x, 1) - 1)", "log_odds_dead = np.log(a) - np.log(b + x)",
           "tests/python/test_clv_models.py", "P(alive) with b + x for b + x - 1"),
    Mutant("M17", "pytest", "backtest baseline (11)", "ml/segmentation/clv/backtest.py",
           '"baseline": x / t * holdout_days,', '"baseline": x / np.maximum(t_x, 1) * holdout_days,',
           "tests/python/test_clv_models.py", "baseline over recency instead of T"),
    Mutant("M18", "pytest", "boundary case (11)", "ml/segmentation/clv/models.py",
           "if statistic >= IDENTIFIABLE_LR:", "if statistic >= 0:",
           "tests/python/test_clv_models.py", "boundary case never detected"),
    Mutant("M19", "pytest", "CLV discounting (11)", "ml/segmentation/clv/models.py",
           "/ (1 + MONTHLY_DISCOUNT) ** month", "/ (1 + MONTHLY_DISCOUNT) ** (month - 1)",
           "tests/python/test_clv_models.py", "discounted one month late"),
]
