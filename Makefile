# kvmfi: build, install and test the whole toolbox.
#   make            binaries + kernel modules for the running kernel
#   make check      every test (Rust, user-space injectors, VM bench: every scenario on
#                   the 4 6.x kernels, each tool's and the QEMU scenarios on 5.10 and 7.3)
#   make check-all  the same with every scenario on all 8 kernels (5.10, 6.1, 6.12, 7.3 x 2 arches)
#   make check-new-kernels  only make check's 5.10/7.3 part (+ matrix check on those four)
#   make matrix     the support matrix (tool x kernel) from the bench logs, into README.md,
#                   checked against what kvmfi-check reported on each kernel
#   make demo       boots the bundled test VM and shows a read fault
#   make bench      benchmarks (results in BENCHMARKS.md)
#   make install    PREFIX=/usr/local DESTDIR= ; modules: DKMS source in /usr/src/kvmfi-VERSION
#                   registered and built when dkms is installed (DKMS=yes|no), else
#                   built for the running kernel into /lib/modules/<rel>/extra
#   make uninstall  removes all of it (dkms remove included)
#   make deb        Debian package target/deb/kvmfi_VERSION_ARCH.deb (packaging/deb)
#   make check-debug  the VM bench on a KASAN/lockdep/kmemleak kernel built from linux-source
#                   (bench/debug-kernel.sh, cached; slow: not part of make check)
#   make check-packaging  the .deb and DKMS proven in a clean Debian chroot (tests/packaging)
#   make man        regenerate man pages from the clap definitions
PREFIX ?= /usr/local
DESTDIR ?=
KERNEL_DIR ?= /lib/modules/$(shell uname -r)/build
KREL ?= $(shell uname -r)
CARGO ?= cargo
comma := ,
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man8
BINDIR = $(DESTDIR)$(PREFIX)/bin
RELEASE ?= $(or $(CARGO_TARGET_DIR),target)/release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# DKMS=yes registers the modules' source with DKMS (default when dkms is installed).
DKMS ?= $(if $(shell command -v dkms 2>/dev/null),yes,no)
DKMS_SRC = $(DESTDIR)/usr/src/kvmfi-$(VERSION)
# Every module (Kbuild), and the build artefacts never copied into the DKMS source.
MODULES = $(shell sed -n 's/^obj-m += \(.*\)\.o$$/\1/p' kmod/Kbuild)
KMOD_ARTEFACTS = --exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
	--exclude='.*.cmd' --exclude='*.order' --exclude='*.symvers' --exclude='.tmp_versions'
BASHCOMPDIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
# The boot-time recovery unit: /lib/systemd/system for PREFIX=/usr (the .deb),
# else PREFIX/lib/systemd/system (systemd reads /usr/local/lib/systemd/system).
UNITDIR = $(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system
UNIT = kvmfi-recover.service

# Every binary the toolbox installs (one crate each under bins/).
BINS = $(notdir $(wildcard bins/*))

# The original C tools' control programs, as links to the binaries that
# replace them (each binary acts as the original when invoked by that name):
# NAME:TOOL words from packaging/legacy-links, generated from the tools table
# (shared/src/kernel/symbols.rs) by `make legacy-links`.
LEGACY_LINKS = $(shell sed -n 's/^\([^\# ][^ ]*\) \([^ ]*\)$$/\1:\2/p' packaging/legacy-links)

.PHONY: all binaries modules install install-modules uninstall deb man completions legacy-links check check-all check-new-kernels check-quick check-debug check-packaging matrix demo bench soak clean

all: binaries modules

binaries:
	bash packaging/build-deps.sh
	$(CARGO) build --release --workspace --bins

modules:
	$(MAKE) -C kmod KERNEL_DIR=$(KERNEL_DIR)

man:
	$(CARGO) run -q -p kvmfi-doc -- man man

completions:
	$(CARGO) run -q -p kvmfi-doc -- completions target/completions

legacy-links:
	$(CARGO) run -q -p kvmfi-doc -- legacy-links .

install: binaries completions install-modules
	install -d $(BINDIR) $(MANDIR)
	for b in $(BINS); do install -m 0755 $(RELEASE)/$$b $(BINDIR)/$$b || exit 1; done
	for l in $(LEGACY_LINKS); do name=$${l%%:*}; target=$${l#*:}; \
		if [ -e $(BINDIR)/$$target ]; then ln -sf $$target $(BINDIR)/$$name; fi; done
	install -m 0755 cluster_manage.sh $(BINDIR)/cluster_manage.sh
	@# The sample cluster file, never over one the user already has.
	install -d $(DESTDIR)/etc/kvmfi
	[ -e $(DESTDIR)/etc/kvmfi/cluster.conf ] || install -m 0644 cluster.conf $(DESTDIR)/etc/kvmfi/cluster.conf
	install -m 0644 man/*.8 $(MANDIR)/
	install -d $(MANDIR)/../man5
	install -m 0644 man/*.5 $(MANDIR)/../man5/
	install -d $(UNITDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' packaging/systemd/$(UNIT).in > $(UNITDIR)/$(UNIT) && chmod 0644 $(UNITDIR)/$(UNIT)
	@if [ -z "$(DESTDIR)" ] && command -v systemctl >/dev/null 2>&1; then \
		systemctl daemon-reload 2>/dev/null || true; \
		systemctl enable $(UNIT) || echo "make install: enable the boot-time recovery with: systemctl enable $(UNIT)"; fi
	install -d $(BASHCOMPDIR) $(ZSHCOMPDIR) $(FISHCOMPDIR)
	cp target/completions/bash/* $(BASHCOMPDIR)/
	cp target/completions/zsh/* $(ZSHCOMPDIR)/
	cp target/completions/fish/* $(FISHCOMPDIR)/

# DKMS=yes: the source tree into /usr/src/kvmfi-VERSION; without DESTDIR also
# `dkms add` and `dkms install` for $(KREL) (when its headers are there; dkms
# builds for later kernels by itself). DKMS=no: modules built for the running
# kernel (when its headers are there) into /lib/modules/$(KREL)/extra.
install-modules:
ifeq ($(DKMS),yes)
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)
	tar -C kmod $(KMOD_ARTEFACTS) -cf - . | tar -C $(DKMS_SRC) --no-same-owner -xf -
	kmod/gen-dkms-conf.sh > $(DKMS_SRC)/dkms.conf
	@if [ -z "$(DESTDIR)" ]; then \
		dkms status -m kvmfi -v $(VERSION) | grep -q . || dkms add -m kvmfi -v $(VERSION) || exit 1; \
		if [ -e /lib/modules/$(KREL)/build/Makefile ]; then \
			dkms build -m kvmfi -v $(VERSION) -k $(KREL) --force && \
			dkms install -m kvmfi -v $(VERSION) -k $(KREL) --force || exit 1; \
		else echo "make install: kvmfi $(VERSION) registered with DKMS; it builds once the headers of $(KREL) are installed (apt-get install linux-headers-$(KREL))"; fi; \
	fi
else
	@if ! ls kmod/*.ko >/dev/null 2>&1 && [ -e $(KERNEL_DIR)/Makefile ]; then $(MAKE) modules; fi
	@if ls kmod/*.ko >/dev/null 2>&1; then \
		install -d $(DESTDIR)/lib/modules/$(KREL)/extra && \
		for k in kmod/*.ko; do case $$k in *kvmfi-empty-*.ko) ;; *) install -m 0644 $$k $(DESTDIR)/lib/modules/$(KREL)/extra/;; esac; done && \
		{ [ -n "$(DESTDIR)" ] || depmod -a $(KREL); }; \
	else echo "make install: no modules built (install linux-headers-$(KREL), or dkms, and rerun)"; fi
endif

uninstall:
	for b in $(BINS); do rm -f $(BINDIR)/$$b; done
	for c in $(sort $(BINS) $(basename $(notdir $(wildcard man/*.8 target/completions/fish/*.fish)))); do \
		rm -f $(BASHCOMPDIR)/$$c.bash $(ZSHCOMPDIR)/_$$c $(FISHCOMPDIR)/$$c.fish; done
	for l in $(LEGACY_LINKS); do rm -f $(BINDIR)/$${l%%:*}; done
	rm -f $(BINDIR)/cluster_manage.sh
	@if [ -z "$(DESTDIR)" ] && [ -e $(UNITDIR)/$(UNIT) ] && command -v systemctl >/dev/null 2>&1; then systemctl disable $(UNIT) || true; fi
	rm -f $(UNITDIR)/$(UNIT)
	@# /etc/kvmfi/cluster.conf goes only while it is still the sample: an edited one is the user's.
	if cmp -s cluster.conf $(DESTDIR)/etc/kvmfi/cluster.conf; then rm -f $(DESTDIR)/etc/kvmfi/cluster.conf; fi
	[ ! -d $(DESTDIR)/etc/kvmfi ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)/etc/kvmfi
	for m in man/*.8; do rm -f $(MANDIR)/$$(basename $$m); done
	for m in man/*.5; do rm -f $(MANDIR)/../man5/$$(basename $$m); done
	@if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null 2>&1 && dkms status -m kvmfi -v $(VERSION) | grep -q .; then \
		echo "dkms remove -m kvmfi -v $(VERSION) --all"; dkms remove -m kvmfi -v $(VERSION) --all; fi
	rm -rf $(DKMS_SRC)
	for m in $(MODULES); do rm -f $(DESTDIR)/lib/modules/$(KREL)/extra/$$m.ko; done
	@if [ -z "$(DESTDIR)" ] && [ -d /lib/modules/$(KREL) ]; then depmod -a $(KREL); fi

deb:
	bash packaging/deb/build-deb.sh

check:
	bash tests/run-all.sh

check-quick:
	bash tests/run-all.sh --quick

# Every scenario on every kernel the bench knows (bench/lib-common.sh ALL_KERNEL_IDS).
ALL_KERNELS = x86_64-5.10,x86_64-6.1,x86_64-6.12,x86_64-7.3,arm64-5.10,arm64-6.1,arm64-6.12,arm64-7.3
check-all:
	bash tests/run-all.sh --kernels $(ALL_KERNELS)

# make check's part on the 5.10 and 7.3 kernels alone: each tool's scenarios,
# the QEMU ones and the experiment (bench/lib-common.sh NEW_KERNEL_IDS and
# NEW_KERNEL_SCENARIOS), then the matrix check on those four.
NEW_KERNELS = $(shell bash -c 'source bench/lib-common.sh && IFS=, && echo "$${NEW_KERNEL_IDS[*]}"')
NEW_KERNEL_SCENARIOS = $(shell bash -c 'source bench/lib-common.sh && echo "$$NEW_KERNEL_SCENARIOS"')
check-new-kernels:
	bash bench/setup-host.sh
	BENCH_FAST_BUILD=$${BENCH_FAST_BUILD:-1} bash bench/run.sh --keep-going --kernels $(NEW_KERNELS) --scenarios "$(NEW_KERNEL_SCENARIOS)"
	bash bench/matrix.sh --check $(subst $(comma), ,$(NEW_KERNELS))

# Written from the last console log of each kernel; fails when a proof failed
# or kvmfi-check disagrees with the bench.
matrix:
	bash bench/matrix.sh --readme README.md --check

# Every scenario once more on the debug kernel (KASAN, lockdep, kmemleak,
# the fault-injection framework): any report fails the run. The kernel has
# no networking: 20-netem and 21-nfs (2[01]-*) are left out.
DEBUG_SCENARIOS = $(filter-out bench/scenarios/20-% bench/scenarios/21-%,$(wildcard bench/scenarios/*.sh))
check-debug:
	bash bench/setup-host.sh
	BENCH_TIMEOUT=$${BENCH_TIMEOUT:-5400} BENCH_TIMEOUT_FACTOR=$${BENCH_TIMEOUT_FACTOR:-3} \
		bash bench/run.sh --kernels x86_64-6.1-debug --scenarios "$(DEBUG_SCENARIOS)"

# make deb, make install/uninstall, and the .deb with DKMS in a clean Debian chroot.
check-packaging:
	bash bench/setup-host.sh
	bash tests/packaging/run.sh

demo:
	bash bench/demo.sh

# Long reliability variants (a million ioctls per device, 1000 arm cycles, 50 reloads;
# 1000 kill -9 trials of the user-space injectors).
soak:
	bash bench/setup-host.sh
	bash tests/userspace/setup.sh
	BENCH_TIMEOUT=$${BENCH_TIMEOUT:-6000} bash bench/run.sh --bench --scenarios bench/scenarios/15-reliability.sh
	bash tests/userspace/run.sh crashsafety-long

bench:
	bash bench/benchmark.sh
	bash tests/userspace/setup.sh
	bash bench/cluster-bench.sh

clean:
	$(CARGO) clean
	$(MAKE) -C kmod clean
