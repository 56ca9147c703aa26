"""Serving: FastAPI app, scoring core, micro-batching, prediction log, metrics, image, load test."""
