# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Tests on other kernels under QEMU, included from the top Makefile.
#
#   make vmtest            tests/run.sh on the host kernel, Debian 11's 5.10
#                          (bullseye:linux-image-amd64), Debian 12's 6.1
#                          (linux-image-amd64) and 6.12 (linux-image-6.12-amd64)
#   make scenario-rdma     RDMA against TCP allocation paths in the 6.1 guest
#                          (KLEAK_VM_KERNEL=bullseye:linux-image-amd64 for 5.10)
#
# Knobs: KLEAK_VM_KERNELS (meta- or image packages for vmtest), KLEAK_VM_KERNEL
# (scenario-rdma), KLEAK_VM_SUITE, KLEAK_VM_TIMEOUT, KLEAK_VM_ACCEL
# (auto|kvm|tcg), KLEAK_VM_CACHE (downloads, unpacked kernels, initramfs,
# results and the apt lists of other suites; never inside the repository).
# A package is taken from the machine's apt sources; SUITE:PACKAGE from
# another Debian release on the same mirror, resolved with an apt
# configuration of the project's own (tools/vm/fetch-kernel.sh).

KLEAK_VM_CACHE ?= /var/tmp/kleak-vm
KLEAK_VM_KERNELS ?= bullseye:linux-image-amd64 linux-image-amd64 linux-image-6.12-amd64
KLEAK_VM_KERNEL ?= linux-image-amd64
export KLEAK_VM_CACHE

# debian-archive-keyring: the keys that other suites' lists are checked against
VM_DEB_PACKAGES := qemu-system-x86 busybox-static kmod cpio xz-utils zstd iproute2 \
	debian-archive-keyring \
	rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest qperf iperf3

# apt-get update only when something is missing or the lists do not know the
# kernel meta-package (fetch-kernel.sh resolves it from them on every run).
.PHONY: vm-deps
vm-deps:
	$(Q)missing=$$(for p in $(VM_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ] || ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then \
		timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -qq || exit 1; \
	fi; \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=120 \
			install -y -qq --no-install-recommends $$missing; \
	fi

.PHONY: vmtest
vmtest: deps vm-deps
	$(Q)timeout 900 $(MAKE) --no-print-directory kleak $(OUTPUT)/kleak-workload $(OUTPUT)/unit-tests
	$(Q)tools/vm/vmtest.sh $(KLEAK_VM_KERNELS)

.PHONY: scenario-rdma
scenario-rdma: deps vm-deps
	$(Q)timeout 900 $(MAKE) --no-print-directory kleak
	$(Q)out=$(KLEAK_VM_CACHE)/results/scenario-rdma-$$(date +%Y%m%d-%H%M%S); \
	tools/vm/run.sh -p $(KLEAK_VM_KERNEL) -t 900 -o $$out -- tools/vm/scenario-rdma.sh; \
	status=$$?; echo "scenario-rdma: artifacts in $$out"; exit $$status
