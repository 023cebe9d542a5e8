"""Segment classifier: predicts a customer's cluster and RFM segment from characteristics that are not the
R, F and M values or scores that define those segments (issue 8)."""

from segmentation.classifier.train import ClassifierResult, train_classifiers

__all__ = ["ClassifierResult", "train_classifiers"]
