"""MLlib clustering of the RFM customers (SPEC 9): train, score with a saved model, compare algorithms."""

from segmentation.clustering.config import ClusteringConfig
from segmentation.clustering.runner import TrainResult, train_clusters

__all__ = ["ClusteringConfig", "TrainResult", "train_clusters"]
