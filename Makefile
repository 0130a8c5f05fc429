# Two commands: `make demo` (set up, run the demo session) and `make test` (set up, run every test).
PY := .venv/bin/python
.PHONY: setup demo test test-py bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) run_session.py

test: setup
	$(PY) -m pytest -q

bench: setup
	for b in sync sumo pose audio refine recording unreal_client; do $(PY) -m bench.$$b || exit 1; done

clean:
	rm -rf sessions build .pytest_cache
