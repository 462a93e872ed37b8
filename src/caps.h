/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The process's effective capabilities, to name the ones a failure lacks. */
#ifndef __KLEAK_CAPS_H
#define __KLEAK_CAPS_H

#include <stdbool.h>

/* Whether capability cap (CAP_*) is effective; without capget(), whether euid is 0. */
bool caps__effective(int cap);

/*
 * What loading kleak's programs lacks: NULL when CAP_SYS_ADMIN, or CAP_BPF
 * and CAP_PERFMON (and CAP_SYS_RESOURCE where the kernel charges BPF maps
 * to RLIMIT_MEMLOCK, before 5.11), are effective; else what is missing.
 */
const char *caps__missing_for_bpf(void);

/*
 * Whether caps__missing_for_bpf() finds nothing missing; if something is,
 * one error line says that what ("kleak", "probing ...") needs it.
 */
bool caps__can_bpf(const char *what);

#endif /* __KLEAK_CAPS_H */
