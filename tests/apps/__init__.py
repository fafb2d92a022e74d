"""Tiny user apps for integration tests, served by loadbench as `module = "tests.apps.<name>:app"`."""
