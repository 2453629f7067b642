# Entry points. `make demo` runs the main job on a fresh machine; `make test` runs every test.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/whisper-operator

.PHONY: help deps model build demo test test-unit test-cluster test-kind test-autoscaling lint bench cluster-up cluster-down kind-up kind-down images crd

help:
	@echo "make demo          install what is missing, fetch tiny.en, build, serve on 127.0.0.1:8000, transcribe a sample"
	@echo "make test          every test: lint, unit, real-model server tests, Prometheus, chart, control-plane suites"
	@echo "make test-unit     cargo tests that need no cluster (the model is fetched first)"
	@echo "make test-cluster  start the local control plane and run the cluster suites"
	@echo "make test-kind     the kind suite: real pods from images built here (e2e/kind/run.sh)"
	@echo "make test-autoscaling  kind with metrics-server and KEDA: a load step scales out and back in (not in make test)"
	@echo "make kind-up       a kind cluster with the operator, Prometheus and the sample, left running"
	@echo "make kind-down     delete that cluster"
	@echo "make images        build the whisper-server and whisper-operator images"
	@echo "make lint          cargo fmt --check and clippy -D warnings"
	@echo "make bench         side-by-side benchmarks (docs/benchmarks.md explains the figures)"
	@echo "make crd           regenerate crds/whisperservice.yaml from the Rust types"

deps:
	scripts/install-deps.sh
	scripts/fetch-k8s-tools.sh

model:
	scripts/fetch-model.sh tiny.en

build:
	cargo build --release -p whisper-server -p whisper-operator

demo:
	scripts/demo.sh

test:
	scripts/test.sh

test-unit:
	scripts/test.sh unit

test-cluster:
	scripts/test.sh cluster

test-kind:
	scripts/test.sh kind

test-autoscaling:
	e2e/kind/run.sh autoscaling

kind-up:
	e2e/kind/run.sh up

kind-down:
	e2e/kind/run.sh down

images:
	scripts/build-images.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench:
	scripts/bench.sh

cluster-up:
	e2e/cluster.sh up

cluster-down:
	e2e/cluster.sh down

crd:
	cargo run -q -p whisper-operator -- crd > crds/whisperservice.yaml
	cp crds/whisperservice.yaml charts/whisper-operator/crds/whisperservice.yaml
