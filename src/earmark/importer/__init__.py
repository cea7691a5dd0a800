"""The submission importer: the decision procedure, the queue backends and the worker loop."""
