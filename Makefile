# The two commands a newcomer needs are `make run` and `make test`; the rest serve them.
.PHONY: install install-test run test lint typecheck bench clean

VENV := .venv
BIN := $(VENV)/bin

install:
	@scripts/install.sh

install-test:
	@scripts/install.sh --test

run: install
	$(BIN)/qatys demo run --dir .run

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

test: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	QATYS_REQUIRE_POSTGRES=1 QATYS_REQUIRE_BROWSER=1 QATYS_REQUIRE_FAKETIME=1 QATYS_REQUIRE_CHROOT=1 $(BIN)/pytest -n 2 --dist loadfile

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
