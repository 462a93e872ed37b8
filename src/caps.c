// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Effective capabilities from capget(2): kleak runs as root or with CAP_BPF
 * and CAP_PERFMON (and CAP_SYSLOG to read kallsyms' addresses), and an error
 * names what is missing.
 */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "caps.h"
#include "log.h"

bool caps__effective(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};

	if (cap < 0 || cap > 63 || syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	return data[cap / 32].effective & (1U << (cap % 32));
}

/*
 * Whether the kernel charges BPF memory to the memory cgroup (5.11) rather
 * than to RLIMIT_MEMLOCK, which then has to be raised for kleak's maps
 * (libbpf does it), and only CAP_SYS_RESOURCE may: probed as libbpf probes
 * it, by bpf_ktime_get_coarse_ns(), which came with the change.
 */
static bool memcg_charged(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_ktime_get_coarse_ns,
				       NULL) > 0;
}

const char *caps__missing_for_bpf(void)
{
	bool bpf = caps__effective(CAP_BPF), perfmon = caps__effective(CAP_PERFMON);

	if (caps__effective(CAP_SYS_ADMIN))
		return NULL;
	if (!bpf && !perfmon)
		return "CAP_BPF and CAP_PERFMON";
	if (!bpf || !perfmon)
		return bpf ? "CAP_PERFMON" : "CAP_BPF";
	if (!caps__effective(CAP_SYS_RESOURCE) && !memcg_charged())
		return "CAP_SYS_RESOURCE (this kernel charges BPF maps to RLIMIT_MEMLOCK)";
	return NULL;
}

bool caps__can_bpf(const char *what)
{
	const char *missing = caps__missing_for_bpf();

	if (missing)
		pr_err("permission denied: %s needs root, or CAP_BPF and CAP_PERFMON (and "
		       "CAP_SYS_RESOURCE before 5.11): %s missing", what, missing);
	return !missing;
}
