VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint screenshots bench bench-bugs swamp swamp-run clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/race-explorer $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check explorer fixtures tests bench screenshots
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

screenshots: $(STAMP)
	$(PY) screenshots/make_screenshots.py
	$(PY) screenshots/swamp_screenshots.py
	$(PY) screenshots/report_screenshot.py

bench: $(STAMP)
	$(PY) bench/overhead.py
	$(PY) bench/tui.py
	$(PY) bench/big_trace.py

bench-bugs: $(STAMP)
	$(PY) bench/find_bugs.py

# The real swamp CLI (Deno) for scenarios/swamp.toml, set up from the shared target:
# ~25 s and ~240 MB the first time (npm registry only), nothing once it is there.
SWAMP_TARGET ?= ../shared/targets/swamp
SWAMP_DIR := .race-explorer/swamp

swamp: $(SWAMP_DIR)/swamp.sh

$(SWAMP_DIR)/swamp.sh:
	@test -f $(SWAMP_TARGET)/setup.sh || { echo "make swamp: $(SWAMP_TARGET)/setup.sh not found; set SWAMP_TARGET to the dir holding swamp's setup.sh" >&2; exit 2; }
	bash $(SWAMP_TARGET)/setup.sh $(SWAMP_DIR)

swamp-run: swamp $(STAMP)
	$(VENV)/bin/race-explorer --headless --scenario scenarios/swamp.toml $(ARGS)

clean:
	rm -rf $(VENV) .race-explorer
