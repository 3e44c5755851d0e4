"""L2 evaluation stage: run benchmarks against a model and write a run artifact."""
