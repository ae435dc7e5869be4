# Contact.STAD: `make up` runs the platform, `make test` passes the tests.
SHELL := bash
UV = $(shell deploy/local/ensure-uv.sh)
STACK := deploy/local/stack.sh
export UV_PYTHON := 3.11
export UV_PYTHON_DOWNLOADS := never

.PHONY: up test install stack-up stack-down stack-reset contracts unit fuzz store-conformance chart chaos

## up: install what is missing, start Kafka, the store and the four services; Ctrl-C stops all
up: install
	@deploy/local/platform.sh

## test: install, start the stack, run every test (unit, integration, e2e), stop the stack
test: install
	@was_up=$$($(STACK) status | grep -c running || true); \
	$(STACK) up || exit 1; \
	$(UV) run --frozen pytest; rc=$$?; \
	if [ "$$was_up" != 2 ]; then $(STACK) down; fi; \
	exit $$rc

## unit: the unit tests only (no broker or store needed)
unit: install
	$(UV) run --frozen pytest -m "not integration and not e2e" shared/tests/unit services/*/tests/unit tools/*/tests/unit tests/unit

## chart: the Helm chart's checks alone (helm lint, helm template | kubeconform, what the objects say)
chart: install
	$(UV) run --frozen pytest tests/unit/test_helm_chart.py

## store-conformance: the MongoDB behaviour our code relies on, against KCC_MONGO_URI (default: the local store)
store-conformance: install
	$(UV) run --frozen pytest tests/store

## fuzz: schemathesis against each service's OpenAPI (authenticated, webhooks signed); fails on any 5xx
fuzz: install
	@deploy/local/fuzz.sh

## chaos: 3 replicas of each service under the simulator's traffic, kill -9s, a broker and a store outage; then the ledger check (CHAOS_ARGS, e.g. --minutes 2)
chaos: install
	$(UV) run --frozen python -m kcc_cli.chaos $(CHAOS_ARGS)

## install: the Python environment, Kafka and the store, Chromium, helm + kubeconform for the chart's checks, the desktop's npm test dependency (axe-core)
install:
	@$(UV) sync --frozen --quiet
	@$(STACK) install
	@deploy/local/ensure-chromium.sh
	@deploy/local/ensure-pdftotext.sh
	@deploy/local/ensure-k8s-tools.sh >/dev/null
	@deploy/local/ensure-frontend.sh

stack-up:
	@$(STACK) up
stack-down:
	@$(STACK) down
stack-reset:
	@$(STACK) reset

## contracts: regenerate the AsyncAPI document and JSON Schemas from the event models
contracts: install
	$(UV) run --frozen python -m kcc_shared.contracts asyncapi --out docs/asyncapi.yaml
	$(UV) run --frozen python -m kcc_shared.contracts schemas --out docs/schemas
