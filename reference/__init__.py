"""The hand-written PySpark reference implementation of SPEC.md, without dbt.

It follows SPEC.md and docs/spec_decisions.md independently of the dbt models and writes the same output
tables in `floor_*` schemas. Two users: the tests, which compare the pipeline's tables with it table by
table and customer by customer (tests/python/test_pipeline.py, test_real_data.py), and the benchmark
(`bench/`), which times it as the floor a hand-written Spark job sets. Its business constants come from
the project's seeds (rules.py), so a rule's value is never written twice.
"""
