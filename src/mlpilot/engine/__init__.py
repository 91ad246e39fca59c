"""Engine: search, splits, out-of-fold runner, ensemble, metrics, artifact, budget. Knows no task."""
