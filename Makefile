# StyleDomain Studio - two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
export PYTHONPATH := $(CURDIR)

.PHONY: run test lint bench package package-test package-tarball package-test-tarball clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m desktop

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest
	$(PY) -m ruff check .

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) -m engine.cli bench

# Installers (slow; CI skips them): the Linux onedir bundle in dist/styledomain-studio/ and its self-test.
package: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,package]"
	$(PY) build_spec/build.py

package-test:
	$(PY) build_spec/package_test.py

# The Linux .tar.gz (`make package` writes it too): rewrite it from the built bundle, and test it unpacked.
package-tarball:
	$(PY) build_spec/build.py --tarball-only

package-test-tarball:
	$(PY) build_spec/package_test.py --tarball dist/styledomain-studio.tar.gz

clean-venv:
	rm -rf $(VENV)
