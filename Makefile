# ucr: the two commands a new machine needs are `make run` and `make test`.
# Both install what is missing (scripts/bootstrap, apt, idempotent) and build first.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
LISTEN ?= 127.0.0.1:8080
DATA ?= ./ucr-data
DEMO_PEOPLE ?= 10000
SOURCES = $(shell git ls-files -co --exclude-standard 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'fuzz/*.cpp' 2>/dev/null)

WEB_SOURCES = $(shell git ls-files -co --exclude-standard web/src web/public web/index.html web/vite.config.ts web/tsconfig.json 2>/dev/null)

.PHONY: all bootstrap configure build web run screenshots test test-release test-asan test-web check-format check-modules check-tidy format tidy bench fuzz clean

all: build

bootstrap:
	@scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null

build: configure
	@ninja -C $(BUILD) -j $(JOBS)

## The web apps (web/): npm ci from the committed lockfile when it changed, then a Vite build into web/dist
web: bootstrap web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

## Build, then serve the FHIR API and the web apps with demo data at http://$(LISTEN)/app/
run: build web
	./$(BUILD)/src/cli/ucr serve --listen $(LISTEN) --data $(DATA) --demo $(DEMO_PEOPLE) --web-root web/dist

## Every test: module and HTTP tests, system tests, the same under ASan+UBSan, format and module-graph checks, web apps
test: build check-format check-modules test-release test-asan check-tidy test-web
	@echo "make test: all passed"

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DUCR_SANITIZE=ON -DUCR_BUILD_BENCH=OFF > /dev/null
	@ninja -C $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE slow

## The web apps: strict type check, unit tests (Vitest), then browser tests in Debian's Chromium against a real server
test-web: build web
	cd web && npm run typecheck && npm test
	cd web && UCR_BIN=$(CURDIR)/$(BUILD)/src/cli/ucr npm run test:browser

## Refreshes docs/screenshots (the main screens at desktop and phone widths) by running the browser tests
SCREENSHOT_PAGES ?= find-patient,match-results,review-queue,review-match,patient-summary,documents,results,correct-entry,break-glass,emergency-record,my-record,my-documents,who-accessed,sharing,sharing-named
screenshots: build web
	rm -f docs/screenshots/*.jpg
	cd web && UCR_BIN=$(CURDIR)/$(BUILD)/src/cli/ucr SCREENSHOTS=$(CURDIR)/docs/screenshots \
	  SCREENSHOT_PAGES=$(SCREENSHOT_PAGES) npm run test:browser

check-format: bootstrap
	@clang-format --dry-run --Werror $(SOURCES) && echo "check-format: clean"

check-modules:
	@scripts/check-modules

format:
	@clang-format -i $(SOURCES)

## clang-tidy over the project's sources (uses the compile database of $(BUILD)); fails on any finding
check-tidy: configure
	@run-clang-tidy -quiet -p $(BUILD) -j $(JOBS) '$(CURDIR)/src/.*\.cpp$$' > $(BUILD)/clang-tidy.log 2>&1 \
	  || { grep -E 'error:|warning:' $(BUILD)/clang-tidy.log | sort -u; echo "check-tidy: findings above"; exit 1; }
	@echo "check-tidy: clean"

tidy: check-tidy

bench: build
	./$(BUILD)/bench/ucr_bench_validate
	bash bench/http_bench.sh ./$(BUILD)/src/cli/ucr

fuzz:
	scripts/fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) web/dist
