# Two commands do everything on a fresh Debian machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# The real interpreter, not a version-manager shim (a shim costs ~90 ms per start).
PYTHON ?= $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo /usr/bin/python3)
VENV := .venv
VPY := $(VENV)/bin/python
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
APT_PACKAGES := build-essential cmake ninja-build pkg-config libboost1.81-dev libseccomp-dev libssl-dev \
                libgtest-dev libre2-dev
# Debian's own interpreter needs its venv and headers packages; a self-built one ships both.
ifneq ($(filter /usr/bin/%,$(PYTHON)),)
APT_PACKAGES += python3-dev python3-venv
endif
# npm runs the MCP conformance suite; its Node 22 comes from the npm registry, not apt.
ifeq ($(shell command -v npm 2>/dev/null),)
APT_PACKAGES += npm
endif
CPP_BUILD := build/cpp
STAMP := build/.stamps

.PHONY: run test deps system-deps test-deps venv build module cpp-tests clean

run: build
	$(VENV)/bin/sandgate serve examples/tools.py --host 127.0.0.1 --port 8000 --banner

# What only the tests use: promtool (Debian's prometheus package) checks the metrics page and the alert rules.
TEST_APT_PACKAGES := prometheus

test: build cpp-tests conformance-install test-deps
	ctest --test-dir $(CPP_BUILD) --output-on-failure -j $(JOBS)
	$(VPY) -m pytest -q

deps: system-deps venv

# Installs only what is missing of the packages $(1); needs root (CI and fresh machines run as root).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or: sudo apt-get install$$missing)" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

system-deps:
	$(call apt_install,$(APT_PACKAGES))

test-deps: system-deps
	$(call apt_install,$(TEST_APT_PACKAGES))

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(STAMP)/venv: pyproject.toml requirements-test.txt | $(VPY)
	$(VPY) -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.13"
	$(VPY) -m pip install -q -r requirements-test.txt
	@mkdir -p $(STAMP) && touch $@

venv: $(STAMP)/venv

# Editable install: Python sources are used in place, _core is rebuilt when C++ changes.
module: system-deps venv
	$(VPY) -m pip install -q --no-build-isolation --no-deps -e .

build: module

cpp-tests: system-deps
	cmake -S . -B $(CPP_BUILD) -G Ninja -DSANDGATE_BUILD_MODULE=OFF -DSANDGATE_BUILD_TESTS=ON >/dev/null
	cmake --build $(CPP_BUILD) -j $(JOBS)

include tools/conformance/conformance.mk
conformance-install: system-deps

clean:
	rm -rf build .tools
