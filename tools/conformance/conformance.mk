# MCP conformance targets; the top-level Makefile includes this file:
#
#   include tools/conformance/conformance.mk
#   test: conformance-install   # install before pytest, so tests/conformance can run
#
# `make conformance` runs only the conformance tests, with the suite's output shown.

CONFORMANCE_PYTHON ?= .venv/bin/python

.PHONY: conformance-install conformance

conformance-install:
	tools/conformance/install.sh

conformance: conformance-install
	$(CONFORMANCE_PYTHON) -m pytest tests/conformance -rA
