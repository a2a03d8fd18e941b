# Cat feeder: one entry point for setup, tests, benchmarks, the local demo and deploys.
# Everything installs from this repo's own files; see README.md.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
MICROPYTHON := $(VENV)/bin/micropython
STUBS := $(VENV)/mpy-stubs
# The firmware's import path on the unix port, in the board's order (tools/device.py board_path):
# our modules, the frozen ones (with the stock image's umqtt), lib.
MICROPYPATH := $(CURDIR)/firmware:.frozen:$(CURDIR)/tools/stock_frozen:lib
export MICROPYPATH

.DEFAULT_GOAL := help
.PHONY: help setup test check test-firmware-mpy test-py fuzz hil bench demo rehearsal hub install uninstall history incidents web device broker pki press schedule flash repl release ota deploy destroy plan replay hydrate clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-stubs.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --upgrade --target $(STUBS) -r requirements-stubs.txt
	touch $@

.deps/installed.txt: tools/setup/fetch_umqtt.py tools/setup/ussl_shim.py | $(VENV)/.installed
	$(PY) tools/setup/fetch_umqtt.py
	@touch $@

# dynalite, the second DynamoDB of the cloud tests (tests/strict_aws/dynalite.py), from its lockfile.
# No install scripts: the in-memory store it runs with needs no native build.
STRICT_AWS := tests/strict_aws
$(STRICT_AWS)/node_modules/.installed: $(STRICT_AWS)/package.json $(STRICT_AWS)/package-lock.json
	@tools/setup/system_packages.sh
	cd $(STRICT_AWS) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

setup: $(VENV)/.installed .deps/installed.txt $(STRICT_AWS)/node_modules/.installed ## Install venv, pinned packages, Debian packages (as root), the benchmark's peer clients and dynalite (npm)
	@tools/setup/system_packages.sh

check: setup ## Build checks: mpy-cross for rv32imc, type-check against the ESP32-C3 stubs, ruff
	@tools/check.sh

test-firmware-mpy: setup ## Firmware unit tests on the real MicroPython interpreter (64K heap)
	@tools/test_mpy.sh

# Test files run side by side over pytest-xdist, a file's tests on one worker (they share its fixtures);
# most wait on processes and sockets, so more workers than cores pays. TEST_JOBS=1 runs them in order.
TEST_JOBS ?= 4
test-py: setup ## Every pytest suite on CPython: firmware units, integration (mosquitto + micropython), cloud (moto)
	$(PY) -m pytest -q $(if $(filter 1,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile) tests

test: check test-firmware-mpy test-py ## Run every check and test

# The Hypothesis properties of tests/fuzz/ and tests/integration/test_fuzz_*.py, which `make test` runs with
# 60 derandomized examples each, here with 20000 random ones each (the profiles: tests/conftest.py).
FUZZ_TESTS = tests/fuzz $(wildcard tests/integration/test_fuzz_*.py)
fuzz: setup ## Fuzz every parser that faces the outside at length (Hypothesis, 20000 examples per property)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q $(FUZZ_TESTS)

hil: setup ## HIL tests and the bring-up check (tests/hil/) on the simulated board, or a real one: BOARD_PORT=/dev/ttyACM0 BOARD_HUB=<address>
	$(if $(BOARD_PORT),BOARD_PORT=$(BOARD_PORT)) $(if $(BOARD_HUB),BOARD_HUB=$(BOARD_HUB)) $(PY) -m pytest -q tests/hil

bench: setup ## Benchmarks: decision path, flash bytes, heap, latency, handlers
	@tools/bench.sh

demo: setup ## Run the whole system locally on the self-hosted hub: button -> mosquitto -> hub (ledger, rules) -> firmware on MicroPython
	$(PY) -m tools.demo

rehearsal: setup ## Rehearse the AWS path locally: button handler -> EventBridge on moto -> feeder -> mosquitto -> firmware
	$(PY) -m tools.aws_rehearsal

hub: setup ## Run the self-hosted hub (mosquitto + ledger + rules) in the foreground, on 127.0.0.1 unless HUB_ARGS="--bind 0.0.0.0 --host-name HOST" (LAN); HOUSEHOLD= another household file
	$(PY) -m cloud.hub run $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(HUB_ARGS)

install: setup ## As root: systemd units for the hub and the page, a dedicated user, enabled now: INSTALL_ARGS='--hub-args "--bind 0.0.0.0"'
	$(PY) -m cloud.hub install $(INSTALL_ARGS)

uninstall: ## As root: stop and remove the hub's and the page's systemd units (the data and the user stay)
	$(PY) -m cloud.hub uninstall

history: setup ## Feeding history table + chart: make history FROM=2026-11-01 TO=2026-11-29 [PNG=history.png] [THING=kitchen] [HISTORY_ARGS="--aws"]
	$(PY) -m cloud.history $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) $(if $(PNG),--png $(PNG)) \
		$(if $(THING),--thing $(THING)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(HISTORY_ARGS)

incidents: setup ## The hub's alerts: open and last resolved incidents, undelivered notifications [TO=2026-12-04T07:00:00Z: rebuilt from the ledger as of then]
	$(PY) -m cloud.hub incidents $(if $(TO),--to $(TO)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(INCIDENTS_ARGS)

web: setup ## The household page on http://127.0.0.1:8080/ (hub in .hub), a card per feeder of household.json (HOUSEHOLD=): WEB_ARGS="--aws" or "--lan --bind 0.0.0.0" (FEEDER_WEB_TOKEN)
	$(PY) -m web $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(WEB_ARGS)

device: setup ## The simulated board (firmware on the unix port) with its own broker; HUB=1: on the running hub (BROKER_PORT= if not 8883); THING= a thing of household.json
	@$(PY) -m tools.device run $(if $(BROKER_PORT),--port $(BROKER_PORT),$(if $(HUB),--hub)) \
		$(if $(THING),--thing $(THING)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD))

broker: setup ## Start the local IoT Core stand-in (mosquitto, mutual TLS) in the foreground
	$(PY) -m cloud.hub.broker run

pki: setup ## Generate the development PKI into .pki/, a certificate per thing of household.json (HOUSEHOLD= another)
	$(PY) -m cloud.hub.pki $(if $(HOUSEHOLD),--household $(HOUSEHOLD))

press: setup ## Publish a button press: EVENT=SINGLE|DOUBLE|LONG [THING=] [VIA=aws (DEPLOY_ARGS)] [BROKER_PORT= of the hub]
	@$(PY) -m cloud.press "$(EVENT)" $(if $(THING),--thing $(THING)) $(if $(VIA),--via $(VIA)) \
		$(if $(BROKER_PORT),--port $(BROKER_PORT)) $(if $(PKI),--pki $(PKI)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) \
		$(if $(filter aws,$(VIA)),$(DEPLOY_ARGS))

schedule: setup ## A feeder's schedule: make schedule [ARGS="set --slot 0 --at 07:30 --event LONG --days daily"] (show, set, remove, grace, pause, resume, skip; THING=, HOUSEHOLD=, VIA=aws)
	@$(PY) -m cloud.schedule_tool $(or $(ARGS),show) $(if $(THING),--thing $(THING)) \
		$(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(if $(filter aws,$(VIA)),--aws $(DEPLOY_ARGS))

flash: setup ## Put the firmware on the board (PORT=, CONFIG=, CERTS=, HUB=host for the self-hosted hub; THING= a thing of household.json; IMAGE=micropython.bin also flashes MicroPython; RELEASE=1.4.0 a built release, else the working tree)
	@$(PY) -m tools.board $(if $(IMAGE),flash --image $(IMAGE),deploy) $(if $(PORT),--port $(PORT)) \
		$(if $(CONFIG),--config $(CONFIG)) $(if $(CERTS),--certs $(CERTS)) $(if $(HUB),--hub $(HUB)) \
		$(if $(THING),--thing $(THING)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(if $(RELEASE),--release $(RELEASE))

release: setup ## A signed firmware release for over-the-air updates: make release VERSION=1.4.0 [DOWNGRADE=1] (key in .release/)
	@$(PY) -m tools.release "$(VERSION)" $(if $(DOWNGRADE),--downgrade)

ota: setup ## Offer a built release to a feeder over the air: make ota THING=cat-feeder VERSION=1.4.0 (THING= default: the first feeder) [HUB=host as boards reach it] [OTA_ARGS="--data-dir .hub --https-port 8443"]; VIA=aws: an IoT Job (DEPLOY_ARGS; OTA_ARGS="--expires-s 86400")
	@$(PY) -m $(if $(filter aws,$(VIA)),cloud.aws.ota,cloud.hub ota) $(if $(THING),"$(THING)") "$(VERSION)" \
		$(if $(filter aws,$(VIA)),$(DEPLOY_ARGS),$(if $(HUB),--url-host $(HUB))) \
		$(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(OTA_ARGS)

repl: setup ## Open a serial REPL on the board (PORT=/dev/ttyACM0)
	@$(PY) -m tools.board repl $(if $(PORT),--port $(PORT))

plan: setup ## Show what a cloud deploy would change
	@$(PY) -m cloud.aws.deploy plan $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(DEPLOY_ARGS)

deploy: setup ## Create or update the cloud half, a thing per thing of household.json (boto3; DEPLOY_ARGS="--endpoint-url URL" for moto; CONFIRM=remove to remove the things the file dropped)
	@$(PY) -m cloud.aws.deploy apply $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(DEPLOY_ARGS)

destroy: setup ## Remove what the deployer created but the ledger (DEPLOY_ARGS=--delete-ledger: that too, asks first)
	@$(PY) -m cloud.aws.deploy destroy $(if $(HOUSEHOLD),--household $(HOUSEHOLD)) $(DEPLOY_ARGS)

hydrate: setup ## A new AWS history table from the archive up to T: make hydrate TO=2026-11-29T07:00:00Z; LIST=1, FINISH=NAME, REMOVE=NAME (hub: python -m cloud.hub hydrate)
	$(PY) -m cloud.aws.hydrate $(if $(TO),--to "$(TO)") $(if $(LIST),--list) $(if $(FINISH),--finish "$(FINISH)") \
		$(if $(REMOVE),--remove "$(REMOVE)") $(DEPLOY_ARGS)

replay: setup ## Replay the archive: make replay FROM=... TO=... RULES=...
	$(PY) -m cloud.aws.replay --from "$(FROM)" --to "$(TO)" --rules "$(RULES)" $(DEPLOY_ARGS)

clean: ## Remove build outputs (keeps the venv and fetched libraries)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
