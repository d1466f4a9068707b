# dirfast developer commands. Everything is installed into a local virtual environment (.venv):
# a fresh clone on a fresh machine needs only python3 (3.9+), a C++ compiler and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.dirfast-installed
# torch: the CPU build (2.13.0) — never put torch in [build-system] requires
DEPS := torch==2.13.0 triton==3.6.0 numpy scipy "pybind11>=2.12" "setuptools>=64" wheel \
        pytest pytest-benchmark matplotlib tqdm hypothesis
# CUDA kernels (dirfast._C_cuda): fatal build when nvcc is on PATH, skipped (auto) otherwise
DIRFAST_BUILD_CUDA ?= $(if $(shell command -v nvcc 2>/dev/null),1,auto)
# triton reads these; set explicitly so kernels round the same way under every triton version
export TRITON_DEFAULT_FP_FUSION ?= 1

.PHONY: install test test-cpu test-interpret test-aot test-gpu fuzz bench demo gpu-check gpu-check-dry gpu-prebuilt fds-ablation clean

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.cpp csrc/*.h csrc/*/*.cpp csrc/*/*.h csrc/*/*.cu)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(DEPS)
	DIRFAST_BUILD_EXT=1 DIRFAST_BUILD_CUDA=$(DIRFAST_BUILD_CUDA) $(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $@

install: $(STAMP)

# Both tiers always run; the target fails if either fails. They cannot share a process:
# TRITON_INTERPRET=1 turns @triton.jit kernels into interpreted functions that triton.compile rejects.
test: install
	@rc=0; \
	$(MAKE) --no-print-directory test-cpu || rc=1; \
	$(MAKE) --no-print-directory test-interpret || rc=1; \
	exit $$rc

# default tier: references, CPU/C++ paths, dispatch, torch.compile, convergence, ahead-of-time compile
test-cpu: install
	env -u TRITON_INTERPRET DIRFAST_REQUIRE_EXT=1 $(PY) -m pytest -q tests

test-interpret: install
	TRITON_INTERPRET=1 DIRFAST_REQUIRE_EXT=1 $(PY) -m pytest -q tests -m interpreter

# property tier with the long hypothesis profile (tests/property/conftest.py): random seed, every
# test's budget x30 = 76,320 generated examples per run, ~8 min (the default CI profile,
# derandomized, runs 2,544 of them inside `make test-cpu`, < 1 min)
fuzz: install
	env -u TRITON_INTERPRET DIRFAST_REQUIRE_EXT=1 HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/property

test-aot: install
	env -u TRITON_INTERPRET $(PY) -m pytest -q tests -m aot

# GPU tier, whole (on a GPU machine, with its own python: no venv there)
GPU_PY ?= python3
test-gpu:
	env -u TRITON_INTERPRET $(GPU_PY) -m pytest -q tests -m gpu

# One prepared, bounded GPU run (README "GPU check"): quick GPU tier + GPU benchmarks + summary table.
# Uses the machine's python and packages; reuses the .so files of `make gpu-prebuilt`, else builds.
GPU_CHECK_OUT ?= benchmarks/results/gpu
GPU_CHECK_ARGS ?=
gpu-check:
	env -u TRITON_INTERPRET $(GPU_PY) -m benchmarks.gpu_check --device cuda --out $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

# the same script on CPU tensors at tiny sizes (CI runs it through tests/test_gpu_check.py)
gpu-check-dry: install
	env -u TRITON_INTERPRET $(PY) -m benchmarks.gpu_check --device cpu --out $(GPU_CHECK_OUT)-dry

# build dirfast/_C*.so for the GPU machine's python (3.12) here, with a hash of csrc/ that
# gpu-check compares before reusing them; PY312 needs setuptools + pybind11 (no torch)
PY312 ?= python3.12
gpu-prebuilt:
	DIRFAST_BUILD_EXT=1 DIRFAST_BUILD_CUDA=1 $(PY312) setup.py -q build_ext --inplace
	$(PY312) -c "import benchmarks.gpu_check as g; print(g.csrc_hash())" > dirfast/.prebuilt-csrc.sha256

bench: install
	$(PY) -m benchmarks.run_all
	env -u TRITON_INTERPRET $(PY) -m dirfast.kernels._aot > benchmarks/results/aot_resources.csv

# real-data DIR benchmark: Abalone-DIR, every method, 5 seeds; table + plots in DEMO_OUT
DEMO_OUT ?= benchmarks/results/demo
demo: install
	env -u TRITON_INTERPRET $(PY) -m dirfast.demo abalone --out $(DEMO_OUT)

# FDS recipe ablation (abalone, 5 seeds, + synthetic known answer); tables in DEMO_OUT/fds_ablation
fds-ablation: install
	env -u TRITON_INTERPRET $(PY) -m dirfast.demo fds-ablation --out $(DEMO_OUT)/fds_ablation

clean:
	rm -rf $(VENV) build *.egg-info dirfast/_C*.so
