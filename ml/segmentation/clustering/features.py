"""SPEC 9 features: the population with monetary > 0, log1p of R, F and M, standardised.

The log1p step is a SQLTransformer inside the MLlib pipeline, so a saved PipelineModel takes raw
marts.customer_rfm rows and needs nothing else to score them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel, Transformer
from pyspark.ml.feature import SQLTransformer, StandardScaler, StandardScalerModel, VectorAssembler
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from segmentation.errors import SegmentationError

RAW_FEATURES = ("recency_days", "frequency", "monetary")
LOG_FEATURES = tuple(f"log1p_{name}" for name in RAW_FEATURES)
ASSEMBLED_COL = "rfm_log"
FEATURES_COL = "features"  # standardised log1p(R, F, M): what every estimator and the silhouette see
PREDICTION_COL = "raw_cluster"  # the estimator's own cluster index, before stable ids are given


@dataclass(frozen=True)
class PopulationStats:
    customers: int


def population(rfm: DataFrame) -> DataFrame:
    """SPEC 9: only customers with monetary > 0 are clustered; the others are 'Unclustered' downstream."""
    return rfm.where(F.col("monetary") > 0)


def check_population(pop: DataFrame) -> PopulationStats:
    """One aggregate pass: size and rows log1p cannot take (null or negative R/F)."""
    row = pop.agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum(
            F.when(
                F.col("recency_days").isNull()
                | F.col("frequency").isNull()
                | (F.col("recency_days") < 0)
                | (F.col("frequency") < 0),
                1,
            ).otherwise(0)
        ).alias("bad"),
    ).first()
    if row is None or row["customers"] == 0:
        raise SegmentationError("no customer with monetary > 0 in marts.customer_rfm; nothing to cluster")
    if row["bad"]:
        raise SegmentationError(
            f"{row['bad']} customer(s) in marts.customer_rfm have a null or negative recency_days/frequency"
        )
    return PopulationStats(customers=int(row["customers"]))


def log_transformer() -> SQLTransformer:
    logs = ", ".join(
        f"log1p(cast({raw} as double)) as {log}" for raw, log in zip(RAW_FEATURES, LOG_FEATURES, strict=True)
    )
    return SQLTransformer(statement=f"select *, {logs} from __THIS__")


def preprocessing_stages() -> list:
    return [
        log_transformer(),
        VectorAssembler(inputCols=list(LOG_FEATURES), outputCol=ASSEMBLED_COL),
        StandardScaler(inputCol=ASSEMBLED_COL, outputCol=FEATURES_COL, withMean=True, withStd=True),
    ]


def build_pipeline(estimator) -> Pipeline:
    """The full SPEC 9 pipeline: log1p -> VectorAssembler -> StandardScaler -> clustering estimator
    (a Pipeline estimator, as for bisecting k-means, is flattened so the clusterer is the last stage)."""
    tail = list(estimator.getStages()) if isinstance(estimator, Pipeline) else [estimator]
    return Pipeline(stages=[*preprocessing_stages(), *tail])


def fit_preprocessing(pop: DataFrame) -> PipelineModel:
    """Fit the feature stages once; the k sweep reuses the scaled data instead of refitting the scaler."""
    return Pipeline(stages=preprocessing_stages()).fit(pop)


def scaled_features(prep: PipelineModel, pop: DataFrame) -> DataFrame:
    """The customers' standardised features, persisted: every fit of a sweep or a comparison reads them, so
    they are computed once. The caller unpersists them."""
    return prep.transform(pop).select("customer_id", FEATURES_COL).persist(StorageLevel.MEMORY_AND_DISK)


def with_estimator(prep: PipelineModel, fitted: Transformer) -> PipelineModel:
    """The fitted feature stages plus a fitted clustering step (flattened): equal to
    build_pipeline(...).fit(...) on the same data, since the scaler statistics do not depend on the
    estimator."""
    tail = list(fitted.stages) if isinstance(fitted, PipelineModel) else [fitted]
    return PipelineModel(stages=[*prep.stages, *tail])


def scaler_of(model: PipelineModel) -> StandardScalerModel:
    for stage in model.stages:
        if isinstance(stage, StandardScalerModel):
            return stage
    raise SegmentationError("the saved model has no StandardScaler stage; it was not written by this project")
