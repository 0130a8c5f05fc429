# Two commands: `make demo` (set up, run the demo session) and `make test` (set up, run every test).
PY := .venv/bin/python
.PHONY: setup demo test test-py bench fuzz clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) run_session.py

test: setup
	$(PY) -m pytest -q

bench: setup
	for b in sync sumo pose photon audio refine recording unreal_client soak multihost; do $(PY) -m bench.$$b || exit 1; done

fuzz: setup  # the protocol decoders under atheris for 10 minutes (the suite runs it for 45 s)
	mkdir -p build/fuzz-corpus
	PYTHONPATH=. $(PY) tests/cosim/fuzz_protocol.py -max_total_time=$${FUZZ_SECONDS:-600} -max_len=70000 build/fuzz-corpus

clean:
	rm -rf sessions build .pytest_cache
