# backbot - build, test, install.  `make help` lists the targets.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/backbot

# Debian packages needed to build and test (see README: Dependencies).
DEBS = build-essential pkg-config libpcre2-dev libcjson-dev \
       libcurl4-openssl-dev libcmocka-dev libedit-dev \
       python3 python3-jsonschema python3-yaml

PKGS     = libpcre2-8 libcjson
# libcurl is loaded at run time by the Matrix front end (src/http.c):
# only its headers are needed at build time.  libedit is loaded at run
# time by the terminal chat (src/lineedit.c): libedit-dev installs it.
CURL_CFLAGS = $(shell pkg-config --cflags libcurl 2>/dev/null)
CFLAGS  ?= -O2 -g
WARN     = -std=c11 -pedantic -Wall -Wextra -Werror -Wshadow -Wvla \
           -Wstrict-prototypes -Wmissing-prototypes -Wwrite-strings \
           -Wformat=2 -Wcast-qual -Wundef
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Isrc
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all

ifeq ($(SANITIZE),1)
B       ?= build/san
CFLAGS   = -O1 -g $(SAN)
LDFLAGS += $(SAN)
else
B       ?= build/release
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) cmocka 2>/dev/null) \
             $(CURL_CFLAGS)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

LIBSRC  = $(filter-out src/main.c,$(wildcard src/*.c))
LIBOBJ  = $(patsubst src/%.c,$(B)/%.o,$(LIBSRC))
TESTS   = $(patsubst tests/%.c,$(B)/%,$(wildcard tests/test_*.c))
BENCHES = $(patsubst bench/%.c,$(B)/%,$(wildcard bench/*.c))

all: backbot

# Copy then rename: a running ./backbot does not block the update.
backbot: $(B)/backbot
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/backbot: $(B)/main.o $(B)/libbackbot.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(B)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The installed data directory is compiled in; rebuild when it changes.
$(B)/main.o: $(B)/datadir.h
$(B)/datadir.h: FORCE
	@mkdir -p $(@D)
	@echo '#define BACKBOT_DATADIR "$(DATADIR)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/main.o: CPPFLAGS += -I$(B)

$(B)/libbackbot.a: $(LIBOBJ)
	$(AR) rcs $@ $^

$(B)/test_%: tests/test_%.c tests/testutil.h $(B)/libbackbot.a
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -Itests $(PKG_CFLAGS) $< \
	    $(B)/libbackbot.a $(LDFLAGS) $(CMOCKA_LIBS) $(PKG_LIBS) -o $@

# test_bot counts the allocations of backbot's own code.
$(B)/test_bot: LDFLAGS += -Wl,--wrap=malloc -Wl,--wrap=calloc \
    -Wl,--wrap=realloc

$(B)/bench_%: bench/bench_%.c $(B)/libbackbot.a
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) $< \
	    $(B)/libbackbot.a $(LDFLAGS) $(PKG_LIBS) -o $@

# Unit tests, then the built binary end to end, then the Matrix suite,
# with a compiled-knowledge-base cache of their own (filled by the first
# load, used by the rest).
test: $(TESTS) $(B)/backbot
	@failed=""; rm -rf $(B)/cache; \
	export BACKBOT_CACHE_DIR=$(CURDIR)/$(B)/cache; \
	for t in $(TESTS); do echo "== $$t"; \
	    BACKBOT_ROOT=$(CURDIR) ./$$t || failed="$$failed $$t"; done; \
	echo "== tests/e2e.sh"; \
	BACKBOT_KB=$(CURDIR) tests/e2e.sh $(B)/backbot || failed="$$failed e2e"; \
	if [ -x tests/matrix/run ]; then echo "== tests/matrix/run"; \
	    tests/matrix/run $(B)/backbot || failed="$$failed matrix"; fi; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all passed"

# Matcher figures, then the Matrix bot's own time per message (load run).
bench: $(BENCHES) $(B)/backbot
	@for b in $(BENCHES); do BACKBOT_KB=$(CURDIR) ./$$b $(B)/backbot || exit 1; done
	@if [ -x tests/matrix/load ]; then tests/matrix/load $(B)/backbot; fi

# Install packages with apt (sudo when not root); skips what is installed.
deps:
	@missing=""; for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	    grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: everything is installed"; \
	else sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    echo "deps: installing$$missing"; \
	    $$sudo apt-get update && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	        --no-install-recommends $$missing; fi

run: all
	./backbot chat

install: $(B)/backbot
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)
	install -m 755 $(B)/backbot $(DESTDIR)$(BINDIR)/backbot
	rm -rf $(DESTDIR)$(DATADIR)/faq $(DESTDIR)$(DATADIR)/intents
	cp -R faq intents $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(PREFIX)/share/doc/backbot
	install -m 644 README.md docs/matrix.md $(DESTDIR)$(PREFIX)/share/doc/backbot/

# No leaks over a whole batch run (valgrind from Debian's valgrind package).
memcheck: $(B)/backbot
	BACKBOT_KB=$(CURDIR) tests/memcheck.sh $(B)/backbot

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/backbot
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(PREFIX)/share/doc/backbot

lint:
	cppcheck --quiet --std=c11 --enable=warning,performance,portability \
	    --error-exitcode=1 --inline-suppr -Isrc \
	    --suppress=unknownMacro --suppress=missingIncludeSystem src tests
	clang-tidy --quiet src/*.c -- $(WARN) $(CPPFLAGS) -I$(B) $(PKG_CFLAGS)

format:
	clang-format -i src/*.[ch] tests/*.[ch] bench/*.c

format-check:
	clang-format --dry-run -Werror src/*.[ch] tests/*.[ch] bench/*.c

clean:
	rm -rf build backbot backbot.tmp

help:
	@echo "make deps     install the Debian packages (apt)"
	@echo "make          build ./backbot"
	@echo "make run      build and start the terminal chat"
	@echo "make test     build and run every test (SANITIZE=1: ASan+UBSan)"
	@echo "make bench    measure start-up, throughput, latency, memory"
	@echo "make install  install to PREFIX ($(PREFIX)), honours DESTDIR"
	@echo "make lint     cppcheck and clang-tidy"

FORCE:
.PHONY: all test bench deps run install uninstall memcheck lint format \
    format-check clean help FORCE
-include $(wildcard $(B)/*.d)
