# Postern: a thin wrapper around Meson.
#   make            build into build/
#   make run        install deps, build, init a demo data root, run everything
#   make check      the whole test suite (ASan + UBSan build in build-san/)
#   make install    install programs, services, man pages, completion and
#                   the systemd files (PREFIX=/usr/local, DESTDIR=staging)
#   make fuzz       run the libFuzzer targets for longer (clang)
BUILD ?= build
SAN ?= build-san
PREFIX ?= /usr/local

.PHONY: all deps run check unit integration install fuzz clean

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

clean:
	rm -rf $(BUILD) $(SAN) build-opt build-fuzz
