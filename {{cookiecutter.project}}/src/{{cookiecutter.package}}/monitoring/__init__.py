"""Monitoring: drift of live data against the reference, and retraining on drift."""
