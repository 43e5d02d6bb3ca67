VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint screenshots bench bench-bugs clean

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

bench: $(STAMP)
	$(PY) bench/overhead.py
	$(PY) bench/tui.py
	$(PY) bench/big_trace.py

bench-bugs: $(STAMP)
	$(PY) bench/find_bugs.py

clean:
	rm -rf $(VENV) .race-explorer
