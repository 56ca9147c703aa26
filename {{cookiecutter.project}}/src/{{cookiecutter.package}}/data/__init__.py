"""Data: the contract (schema.yaml), loading, splitting; validate-data, infer-schema, pull-data."""
