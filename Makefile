# Postern: a thin wrapper around Meson.
#   make            build into build/
#   make run        install deps, build, init a demo data root, run everything
#   make check      the whole test suite (ASan + UBSan build in build-san/)
#   make install    install programs, services, man pages, completion and
#                   the systemd files (PREFIX=/usr/local, DESTDIR=staging)
#   make fuzz       run the libFuzzer targets for longer (clang)
#   make analyze    cppcheck and clang's static analyzer over src/ (make
#                   check runs it too; any finding fails)
#   make coverage   unit tests and integration tests (TESTS=..., default
#                   all) on a gcov build; HTML report by gcovr
BUILD ?= build
SAN ?= build-san
PREFIX ?= /usr/local

.PHONY: all deps run check unit integration install fuzz clean analyze coverage
COV ?= build-cov
TESTS ?= tests/integration

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

deps:
	./scripts/install-deps.sh

run: deps all
	./scripts/demo.sh

$(SAN)/build.ninja:
	meson setup $(SAN) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug

check: deps $(SAN)/build.ninja
	./scripts/run-tests.sh

# A build folder keeps the prefix it was set up with: make run sets up
# build/ for /usr/local, so a later make install PREFIX=/opt/x would
# install there anyway. Reconfigure when the prefix differs.
install: $(BUILD)/build.ninja
	@cur=$$(meson introspect $(BUILD) --buildoptions | python3 -c \
	    'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])'); \
	if [ "$$cur" != "$(abspath $(PREFIX))" ]; then \
		echo "build prefix $$cur -> $(abspath $(PREFIX))"; \
		meson configure $(BUILD) --prefix=$(abspath $(PREFIX)); \
	fi
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD)

fuzz:
	./bench/fuzz/run.sh

analyze: deps
	./scripts/analyze.sh

# gcov counters add up over runs: reset them, then the report is this run's
coverage: deps
	[ -f $(COV)/build.ninja ] || meson setup $(COV) -Db_coverage=true \
		-Dbuildtype=debug
	ninja -C $(COV)
	find $(COV) -name '*.gcda' -delete
	-meson test -C $(COV) --num-processes 2
	-POSTERN_BUILD=$(abspath $(COV)) /usr/bin/python3 -m pytest -q \
		-p no:cacheprovider $(TESTS)
	mkdir -p $(COV)/coverage
	gcovr -r . --filter src/ --print-summary \
		--html-details $(COV)/coverage/index.html $(COV)
	@echo "coverage report: $(COV)/coverage/index.html"

clean:
	rm -rf $(BUILD) $(SAN) build-opt build-fuzz build-analyze $(COV)
