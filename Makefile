# The two commands a fresh machine needs (see README):
#   make demo   installs everything, then starts lookbot on the embedded demo catalog
#   make test   installs everything, then runs the whole test suite
.PHONY: demo test setup

setup:
	./scripts/setup.sh

demo: setup
	./scripts/demo.sh

test: setup
	.venv/bin/python -m pytest -q --durations=15
