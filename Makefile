# Two commands that work on a fresh machine:
#   make book   build the book into _build/html (strict: warnings are errors)
#   make test   lint, then every test tier (fast tests, notebook execution + strict build, browser check,
#               the PDF: tests/test_pdf.py builds it), then the fast tier again at the lowest versions
#               pyproject.toml allows (test-lowest)
# and one that needs TeX Live (.ci/run installs it):
#   make pdf    the whole book in one PDF, _build/latex/imagenet-contenders.pdf (after `make book` it
#               reuses the executed chapters, and copies the PDF into the site, which links to it)
# All three create the virtual environment .venv and install requirements.txt first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book pdf test test-fast lint bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

book: $(STAMP)
	$(PY) scripts/build_book.py

pdf: $(STAMP)
	$(PY) scripts/build_book.py --pdf

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check nets tests bench

# The fast tier, one process per core (pytest-xdist); it lists its 15 slowest tests to keep it near a minute.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" -q --durations=15 -n 2

test: lint
	$(PY) -m pytest -q
	$(MAKE) test-lowest

# The fast tier again at the lowest versions pyproject.toml allows (uv's lowest-direct resolution, wheels only),
# in .venv-lowest, so every floor stays true. From uv's cache: about 1 min to install, 4 min to test on 2 cores.
LOWEST := .venv-lowest
.PHONY: test-lowest
$(LOWEST)/.installed: pyproject.toml | $(STAMP)
	rm -rf $(LOWEST)
	$(PY) -m uv venv --quiet --python $(PY) $(LOWEST)
	$(PY) -m uv pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct --only-binary :all: \
		-e ".[timm,book,test]"
	touch $@

test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -m pytest -m "not slow" -q -n 2

bench: $(STAMP)
	$(PY) bench/models.py
	$(PY) bench/data.py
	$(PY) bench/train.py

clean:
	rm -rf _build
