# kvmfi: build, install and test the whole toolbox.
#   make            binaries + kernel modules for the running kernel
#   make check      every test (Rust, user-space injectors, VM bench on 4 kernels)
#   make demo       boots the bundled test VM and shows a read fault
#   make bench      benchmarks (results in BENCHMARKS.md)
#   make install    PREFIX=/usr/local DESTDIR= ; modules into /lib/modules/<rel>/extra
#   make man        regenerate man pages from the clap definitions
PREFIX ?= /usr/local
DESTDIR ?=
KERNEL_DIR ?= /lib/modules/$(shell uname -r)/build
KREL ?= $(shell uname -r)
CARGO ?= cargo
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man8
BINDIR = $(DESTDIR)$(PREFIX)/bin
RELEASE = target/release

# Every binary the toolbox installs (one crate each under bins/).
BINS = $(notdir $(wildcard bins/*))

# The original C tools' control programs, as links to the binaries that
# replace them (each binary acts as the original when invoked by that name).
LEGACY_LINKS = file-read-fi-main:vfs-read-fi file-write-fi-main:vfs-write-fi \
	pt-load-fi-main:mm-fault-fi pt-update-fi-main:tlb-flush-fi memory-main:memslot-fi \
	kswapd-fi-main:kswapd-fi resource-main:kvm-ioctl-fi kvm-state-fi-main:vcpu-state-fi \
	kvm-version-fi-main:kvm-version-fi vm-migration-fi-main:dirty-log-fi

.PHONY: all binaries modules install uninstall man completions check check-quick demo bench clean

all: binaries modules

binaries:
	$(CARGO) build --release --workspace --bins

modules:
	$(MAKE) -C kmod KERNEL_DIR=$(KERNEL_DIR)

man:
	$(CARGO) run -q -p kvmfi-doc -- man man

completions:
	$(CARGO) run -q -p kvmfi-doc -- completions target/completions

install: binaries completions
	install -d $(BINDIR) $(MANDIR)
	for b in $(BINS); do install -m 0755 $(RELEASE)/$$b $(BINDIR)/$$b; done
	for l in $(LEGACY_LINKS); do name=$${l%%:*}; target=$${l#*:}; \
		if [ -e $(BINDIR)/$$target ]; then ln -sf $$target $(BINDIR)/$$name; fi; done
	install -m 0644 man/*.8 $(MANDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	cp target/completions/bash/* $(DESTDIR)$(PREFIX)/share/bash-completion/completions/
	cp target/completions/zsh/* $(DESTDIR)$(PREFIX)/share/zsh/site-functions/
	cp target/completions/fish/* $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/
	@if ls kmod/*.ko >/dev/null 2>&1; then \
		install -d $(DESTDIR)/lib/modules/$(KREL)/extra && \
		for k in kmod/*.ko; do case $$k in *kvmfi-empty-kprobe.ko) ;; *) install -m 0644 $$k $(DESTDIR)/lib/modules/$(KREL)/extra/;; esac; done && \
		{ [ -n "$(DESTDIR)" ] || depmod -a $(KREL); }; \
	else echo "make install: no modules built (run 'make modules' with kernel headers installed)"; fi

uninstall:
	for b in $(BINS); do rm -f $(BINDIR)/$$b; done
	for l in $(LEGACY_LINKS); do rm -f $(BINDIR)/$${l%%:*}; done
	for m in man/*.8; do rm -f $(MANDIR)/$$(basename $$m); done
	for k in kmod/*.ko; do rm -f $(DESTDIR)/lib/modules/$(KREL)/extra/$$(basename $$k); done

check:
	bash tests/run-all.sh

check-quick:
	bash tests/run-all.sh --quick

demo:
	bash bench/demo.sh

bench:
	bash bench/benchmark.sh
	bash bench/cluster-bench.sh

clean:
	$(CARGO) clean
	$(MAKE) -C kmod clean
