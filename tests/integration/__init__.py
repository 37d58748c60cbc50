"""End-to-end tests against real `sandgate serve` processes (a package, so this conftest and
tests/unit/conftest.py never share the module name `conftest`)."""
