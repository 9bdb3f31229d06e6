# Two entry points for a fresh Debian 12 machine with Swift (see README.md):
#   make run   installs system packages, builds, starts a standalone node on samples/ and feeds it
#   make test  installs system packages, starts MariaDB on loopback, runs every test
#   make rehearse  the ECS deployment's layout and environment on this machine (deploy/rehearse.sh)
#   make ha-throughput [EVENTS=N]  acknowledged ingest, HA off vs on (scripts/ha-throughput.sh, perf/README.md)
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: run test deps build release rehearse ha-throughput conformance clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	@bash scripts/run-sample.sh

test: deps
	@eval "$$(bash scripts/mariadb.sh start | grep '^export')" && \
	  $(SWIFT) build --build-tests && \
	  $(SWIFT) test --skip-build

rehearse: release
	@bash deploy/rehearse.sh --bin .build/release/tandem

EVENTS ?= 10000000
ha-throughput: release
	@bash scripts/ha-throughput.sh $(EVENTS)

# The shared Siddhi conformance cases (../shared/conformance) that the engine implements so far.
conformance: release
	python3 ../shared/conformance/check.py ../shared/conformance/cases --tandem .build/release/tandem --only '0[12345]-*'

clean:
	rm -rf .build .tandem-run
