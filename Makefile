# Postern: a thin wrapper around Meson.
#   make            build into build/
#   make run        install deps, build, init a demo data root, run everything
#   make check      the whole test suite (ASan + UBSan build in build-san/)
#   make install    install programs, services and the systemd unit
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

install: all
	meson install -C $(BUILD)

fuzz:
	./bench/fuzz/run.sh

clean:
	rm -rf $(BUILD) $(SAN) build-opt build-fuzz
