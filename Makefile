# The course's commands. The two a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
KERNEL := i2i-course

.PHONY: setup lab test test-slow notebooks strip bench clean

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

# Regenerate notebooks/ (student versions) from solutions/, stripping outputs. Student
# notebooks holding a learner's work are kept unless FORCE=1.
notebooks: setup
	$(BIN)/python tools/make_student.py $(if $(FORCE),--force,)

bench: setup
	$(BIN)/python benchmarks/data_speed.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/mean_of_many.py
	$(BIN)/python benchmarks/segmenter_accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache
