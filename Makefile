# The course's commands. The two a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
KERNEL := i2i-course

.PHONY: setup lab test test-slow test-gpu-dry gpu-check notebooks strip bench clean

# Create .venv, install course_lib (editable) with everything the notebooks and tests
# use, and register a Jupyter kernel. Re-runs only when pyproject.toml changes.
setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 (or run 'make PYTHON=python3.X ...')"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (i2i course)" >/dev/null
	@touch $(STAMP)
	@echo "course environment ready in $(VENV)"

# Set up if needed, then open the course in JupyterLab.
lab: setup
	$(BIN)/jupyter lab notebooks/

# Set up if needed, then run the whole suite: unit tests and every notebook (nbval, ci profile).
test: setup
	COURSE_PROFILE=ci MPLBACKEND=Agg $(BIN)/python -m pytest

# The paper-claim tests: the cpu profile, minutes per claim.
test-slow: setup
	COURSE_PROFILE=cpu MPLBACKEND=Agg $(BIN)/python -m pytest -m slow -p no:nbval tests

# Every solution notebook at the gpu profile's sizes (256 px, 64 filters, pix2pixHD at
# 256x512 and 512x1024) on the CPU, each training run capped at 2 steps: wall time and peak
# memory per notebook. About 54 minutes on 2 shared cores (docs/gpu_budget.md): not in `make test`.
test-gpu-dry: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(BIN)/python tools/gpu_dry_run.py --max-steps 2

# On a CUDA machine: measure the GPU (speed settings, each notebook's training cell) in a few
# minutes, write docs/gpu_measured.md and fill the README's gpu column. Refuses without CUDA.
gpu-check: setup
	$(BIN)/python tools/gpu_check.py

# Regenerate notebooks/ (student versions) from solutions/, stripping outputs. Student
# notebooks holding a learner's work are kept unless FORCE=1.
notebooks: setup
	$(BIN)/python tools/make_student.py $(if $(FORCE),--force,)

bench: setup
	$(BIN)/python benchmarks/data_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/cpu_precision.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/mean_of_many.py
	$(BIN)/python benchmarks/segmenter_accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache
