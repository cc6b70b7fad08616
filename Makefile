# Install the agent and its Python code into the OCF tree, no virtualenv needed.
#   make install [DESTDIR=/tmp/x] [OCF_ROOT=/usr/lib/ocf] [PROVIDER=mfsha]
#   make uninstall (same variables) removes exactly what install wrote.
OCF_ROOT ?= /usr/lib/ocf
PROVIDER ?= mfsha
DESTDIR ?=
PYTHON ?= /usr/bin/python3
# make demo PLATFORM=debian13: the demo's nodes on Debian 13 (scripts/debian13-root)
PLATFORM ?= debian12
# COMPILE=no leaves byte-compiling to the Debian package (dh_python3)
COMPILE ?= yes

SBIN_DIR = $(DESTDIR)/usr/sbin
LIBEXEC_DIR = $(DESTDIR)/usr/libexec/$(PROVIDER)
MAN7 = $(DESTDIR)/usr/share/man/man7/ocf_$(PROVIDER)_mfsmaster.7
MAN8 = $(DESTDIR)/usr/share/man/man8/mfsha.8
MAN8_UCARP = $(DESTDIR)/usr/share/man/man8/mfsha-ucarp.8
AGENT_DIR = $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)
LIB_DIR = $(DESTDIR)$(OCF_ROOT)/lib/$(PROVIDER)
PACKAGES = ocf moosefs failover mfsha ucarp
MODULES = procrun.py

.PHONY: install uninstall deb deps moosefs4 test check demo demo-down bench

install:
	install -d -m 755 $(AGENT_DIR) $(LIB_DIR) $(addprefix $(LIB_DIR)/,$(PACKAGES))
	for pkg in $(PACKAGES); do install -m 644 $$pkg/*.py $(LIB_DIR)/$$pkg/; done
	install -m 644 $(MODULES) $(LIB_DIR)/
	install -m 755 heartbeat/mfsmaster $(AGENT_DIR)/mfsmaster
	install -d -m 755 $(SBIN_DIR)
	for name in mfsha mfsha-ucarp; do \
	  sed 's|@LIBRARY@|$(OCF_ROOT)/lib/$(PROVIDER)|' sbin/mfsha > $(SBIN_DIR)/$$name; \
	  chmod 755 $(SBIN_DIR)/$$name; \
	done
	install -d -m 755 $(LIBEXEC_DIR)
	install -m 755 libexec/ucarp-up libexec/ucarp-down $(LIBEXEC_DIR)/
	install -d -m 755 $(dir $(MAN7)) $(dir $(MAN8))
	$(PYTHON) -m ocf.manpage mfsha.info:INFO $(PROVIDER) > $(MAN7)
	install -m 644 man/mfsha.8 $(MAN8)
	install -m 644 man/mfsha-ucarp.8 $(MAN8_UCARP)
	[ "$(COMPILE)" = no ] || $(PYTHON) -m compileall -q $(LIB_DIR) >/dev/null

uninstall:
	rm -f $(AGENT_DIR)/mfsmaster $(SBIN_DIR)/mfsha $(SBIN_DIR)/mfsha-ucarp $(MAN7) $(MAN8) $(MAN8_UCARP)
	rm -f $(LIBEXEC_DIR)/ucarp-up $(LIBEXEC_DIR)/ucarp-down
	rmdir $(LIBEXEC_DIR) 2>/dev/null || true
	for pkg in $(PACKAGES); do \
	  for f in $$pkg/*.py; do rm -f $(LIB_DIR)/$$f; done; \
	  rm -rf $(LIB_DIR)/$$pkg/__pycache__; rmdir $(LIB_DIR)/$$pkg 2>/dev/null || true; \
	done
	for f in $(MODULES); do rm -f $(LIB_DIR)/$$f; done
	rm -rf $(LIB_DIR)/__pycache__
	rmdir $(LIB_DIR) $(AGENT_DIR) 2>/dev/null || true
	[ -z "$(DESTDIR)" ] || rmdir -p $(SBIN_DIR) $(dir $(LIBEXEC_DIR)) $(DESTDIR)$(OCF_ROOT)/resource.d \
	  $(DESTDIR)$(OCF_ROOT)/lib $(dir $(MAN7)) $(dir $(MAN8)) 2>/dev/null || true

# The Debian package resource-agents-mfsha, built into build/deb/ and checked by lintian.
deb:
	scripts/build-deb

deps:
	scripts/install-deps

# MooseFS 4 for the tests: built once from ../shared/moosefs/moosefs-4.*.tar.gz into
# /var/cache/mfsha (or MFSHA_MOOSEFS4=an installed prefix). Without either the 4.x tests
# are skipped and say why; a broken prefix makes them fail, naming it.
moosefs4:
	-@scripts/moosefs4 >/dev/null

# The test command of the README (and of CI): dependencies, then every test.
check: deps moosefs4
	$(MAKE) test

# Two streams side by side (scripts/run-tests).
test:
	PYTHON=$(PYTHON) scripts/run-tests

# The live demo: a 3-node cluster on this machine, a crash of the master's node, the
# failover time and the data check. It stays up; `make demo-down` removes it.
demo: deps
	$(PYTHON) -m lab demo --platform $(PLATFORM)

demo-down:
	$(PYTHON) -m lab down

bench:
	$(PYTHON) bench/ocf_dispatch.py
	$(PYTHON) bench/agent_monitor.py
	$(PYTHON) bench/inspect_restore.py
	$(PYTHON) bench/promote_scale.py
	$(PYTHON) bench/failover.py
