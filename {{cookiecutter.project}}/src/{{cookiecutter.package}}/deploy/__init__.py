"""Deploy: desired state (deploy/ENV.yaml), local and kubernetes targets, smoke test, promote."""
