"""Customer lifetime value (SPEC 11): BG/NBD and Gamma-Gamma fitted by maximum likelihood on the
buy-till-you-die summary (marts.customer_clv_summary), predictions scored in Spark, and a forward backtest."""

from segmentation.clv.runner import ClvResult, run_clv

__all__ = ["ClvResult", "run_clv"]
