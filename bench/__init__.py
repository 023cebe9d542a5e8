"""The benchmark: `segmentation bench` times the pipeline against the hand-written PySpark reference
(`reference.floor`, the floor a hand-written Spark job sets) on generated data, each way in a process of
its own, and checks that both built the same tables (`reference.fingerprints`). Results: bench/results/."""
