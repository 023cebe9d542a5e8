"""Benchmark implementations of the whole SPEC computation outside dbt: a hand-written PySpark
"floor" (`bench.floor`) and a pandas + scikit-learn version (`bench.pandas_impl`). The harness that
runs them side by side with the pipeline is `segmentation.bench`."""
