# The two commands a newcomer needs are `make run` and `make test`; the rest serve them.
.PHONY: install install-test run test test-arm64 lint typecheck bench clean translations

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
	QATYS_REQUIRE_POSTGRES=1 QATYS_REQUIRE_BROWSER=1 QATYS_REQUIRE_FAKETIME=1 QATYS_REQUIRE_CHROOT=1 QATYS_REQUIRE_ARM64=1 $(BIN)/pytest -n 2 --dist loadfile

# The arm64 install test alone (tests/arm64_install.py; make test runs it too, beside the rest).
test-arm64: install-test
	QATYS_REQUIRE_ARM64=1 $(BIN)/pytest -n0 -p no:randomly tests/test_arm64_install.py

# After adding or changing a text (docs/i18n.md): extract the messages, merge them into the
# kk and ru catalogues, translate the new ones there, then run this again to compile.
EXTRACT := $(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-output --no-wrap
UPDATE := $(BIN)/pybabel update --no-wrap --no-fuzzy-matching --ignore-obsolete
# The commands' catalogue holds only Sentence(...) and plural_sentence(...) (qatys/sentences.py).
CLI_KEYWORDS := --no-default-keywords -k Sentence -k plural_sentence:1,2
translations: install
	$(EXTRACT) --project Qatys --copyright-holder Qatys -o server/i18n/messages.pot server
	$(UPDATE) -i server/i18n/messages.pot -d server/i18n/translations
	$(BIN)/pybabel compile --statistics -d server/i18n/translations
	$(EXTRACT) --project Qatys --copyright-holder Qatys -o terminal/kiosk/translations/kiosk.pot terminal/kiosk
	$(UPDATE) -D kiosk -i terminal/kiosk/translations/kiosk.pot -d terminal/kiosk/translations
	$(BIN)/pybabel compile --statistics -D kiosk -d terminal/kiosk/translations
	$(EXTRACT) $(CLI_KEYWORDS) --project Qatys --copyright-holder Qatys -o qatys/translations/cli.pot qatys server provisioning terminal
	$(UPDATE) -D cli -i qatys/translations/cli.pot -d qatys/translations
	$(BIN)/pybabel compile --statistics -D cli -d qatys/translations

bench: install-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
