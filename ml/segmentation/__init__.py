"""Customer segmentation warehouse: ingest, dbt-on-Spark marts and MLlib clustering."""

__version__ = "0.1.0"
