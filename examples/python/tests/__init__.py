"""Tests of the example: run them as test/integration/python-example.test.ts does (see test_workspace_schema.py)."""
