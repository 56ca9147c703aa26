"""Test helpers shared by the template's tests (linters, fake GitHub API, fixtures)."""
