# FovEx workbook: set-up, build and test.
#   make book       build the static site into _build/html (creates .venv first; fetches the
#                   site's MathJax and widget scripts from npm into _build/site_assets)
#   make site-check build the site, then check it: links and assets of every page, and every
#                   page loaded in headless Chromium (installs Debian's chromium when missing
#                   and run as root)
#   make test       everything: all unit tests (slow ones included) + nbval on the committed
#                   chapter notebooks
#   make test-fast  the unit tests not marked @pytest.mark.slow (no notebooks): the quick
#                   edit-test loop, under 2 minutes
#   make lint       ruff check (settings in pyproject.toml; book/ruff.toml for the chapters)
#   make typecheck  mypy on fovex_lib (settings in pyproject.toml)
#   make format     ruff format (rewrites files)
#   make execute    re-execute every book/{chapters,appendix}/*.md into its paired .ipynb
#                   (one chapter: make execute CHAPTERS=book/chapters/01_foveation.md)
#   make clean      remove _build
# .ci/run runs lint, typecheck, test and site-check, in that order.

SHELL := /bin/bash

# python3.11 if it runs, else python3 (override: make PYTHON=/path/to/python).
PYTHON := $(shell python3.11 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3)
VENV   := .venv
VBIN   := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHAPTERS ?= $(sort $(wildcard book/chapters/*.md book/appendix/*.md))

.PHONY: venv book site-check test test-fast lint typecheck format execute clean

define STRIP_TIMINGS
import sys, nbformat
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
for cell in nb.cells:
    cell.metadata.pop("execution", None)
nbformat.write(nb, path)
endef
export STRIP_TIMINGS

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(VBIN)/python || $(PYTHON) -m venv $(VENV)
	$(VBIN)/python -m pip install --upgrade pip
	$(VBIN)/python -m pip install -r requirements.txt
	$(VBIN)/python -m pip install -e . --no-deps
	touch $@

# The notebooks are not executed here (_config.yml: execute_notebooks "off"):
# the site shows the outputs stored in the committed .ipynb files.
# The site loads nothing from a CDN: MathJax, RequireJS and the ipywidgets HTML manager come
# from the npm registry (`npm pack`, versions and checksums pinned in
# fovex_lib/tools/site_assets.py) into SITE_ASSETS, which _config.yml serves as _static/.
# Launch buttons (Colab, Binder) appear only when BOOK_REPOSITORY_URL is set, e.g.
# `make book BOOK_REPOSITORY_URL=https://github.com/OWNER/REPO` (the deploy workflow does).
SITE_ASSETS := _build/site_assets

book: venv
	$(VBIN)/python -m fovex_lib.tools.site_assets $(SITE_ASSETS)
	$(VBIN)/jupyter-book build . --warningiserror --keep-going

# Builds the site (incremental after a `make book`), then checks _build/html with
# fovex_lib/tools/site_check.py twice: served on 127.0.0.1, then opened from disk (file://,
# every other request blocked: the folder on a USB stick with no network). The browser part needs Chromium: installed here with apt
# when missing and run as root; otherwise it is skipped with a message (the file checks
# still run). Set CHROMIUM=/path/to/chrome to use another one.
site-check: book
	@if [ -z "$${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing Debian's chromium for the browser checks (apt-get install -y chromium)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium >/dev/null \
	      || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	      || echo "(chromium could not be installed: the browser checks will be skipped)"; \
	  else \
	    echo "(no chromium: install it with 'sudo apt-get install -y chromium' for the browser checks)"; \
	  fi; \
	fi
	$(VBIN)/python -m fovex_lib.tools.site_check _build/html
	$(VBIN)/python -m fovex_lib.tools.site_check _build/html --from-disk

# Both steps always run; the target fails if either fails.
# pytest exits 5 when it collects nothing: that is not a failure here
# (e.g. no chapter notebooks yet).
test: venv
	@status=0; \
	echo "== unit tests: pytest tests"; \
	$(VBIN)/python -m pytest tests -q -p no:cacheprovider || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "(no unit tests collected)"; else status=$$rc; fi; }; \
	echo "== notebooks: pytest --nbval book"; \
	if ls book/*/*.ipynb >/dev/null 2>&1; then \
	  $(VBIN)/python -m pytest --nbval --nbval-current-env \
	    --nbval-sanitize-with tests/sanitize.cfg -q -p no:cacheprovider book || { rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "(no notebook cells collected)"; else status=$$rc; fi; }; \
	else \
	  echo "(no notebooks in book: nbval step skipped)"; \
	fi; \
	exit $$status

# The edit-test loop: unit tests without the slow end-to-end ones (-m "not slow").
test-fast: venv
	$(VBIN)/python -m pytest tests -q -p no:cacheprovider -m "not slow"

lint: venv
	$(VBIN)/ruff check .
	$(VBIN)/ruff format --check .

typecheck: venv
	$(VBIN)/mypy

format: venv
	$(VBIN)/ruff format .

# Re-execute each MyST chapter into its paired notebook: jupytext writes the
# notebook from the .md (fresh, no stale outputs), nbconvert executes it in place.
# The kernel runs in the chapter's folder with the venv's python (JUPYTER_PATH
# puts the venv's "python3" kernelspec ahead of any user-level one).
# The per-cell execution timestamps nbclient records are dropped afterwards so
# that re-running an unchanged chapter gives a small diff.
execute: venv
	@set -e; \
	for md in $(CHAPTERS); do \
	  nb=$${md%.md}.ipynb; \
	  echo "== $$md -> $$nb"; \
	  $(VBIN)/jupytext --to ipynb "$$md"; \
	  PATH="$(CURDIR)/$(VBIN):$$PATH" JUPYTER_PATH="$(CURDIR)/$(VENV)/share/jupyter" \
	    timeout 900 $(VBIN)/jupyter nbconvert --to notebook --execute --inplace \
	      --ExecutePreprocessor.timeout=900 "$$nb"; \
	  $(VBIN)/python -c "$$STRIP_TIMINGS" "$$nb"; \
	done

clean:
	rm -rf _build
