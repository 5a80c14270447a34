# berth — see README.md. Every target is idempotent.
SHELL := /bin/bash
SOCK ?= /run/berth/berth.sock
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all setup build typecheck up down test test-unit test-integration bench image clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@node scripts/build.mjs

typecheck: setup
	@npx tsc --noEmit -p .

# Set up, build, start berthd on the default socket, make busybox:latest, run a container.
up: build
	@bash scripts/up.sh

down:
	@bash scripts/down.sh

image: build
	@bash scripts/make-busybox-image.sh

test: build typecheck
	@bash scripts/test.sh

bench: build
	@bash scripts/bench.sh

clean:
	rm -rf dist build dist-tsc
