/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The process's effective capabilities, to name the ones a failure lacks. */
#ifndef __KLEAK_CAPS_H
#define __KLEAK_CAPS_H

#include <stdbool.h>

/* Whether capability cap (CAP_*) is effective; without capget(), whether euid is 0. */
bool caps__effective(int cap);

/*
 * What loading kleak's programs lacks: NULL when CAP_SYS_ADMIN, or CAP_BPF
 * and CAP_PERFMON, are effective; else "CAP_BPF", "CAP_PERFMON" or both.
 */
const char *caps__missing_for_bpf(void);

#endif /* __KLEAK_CAPS_H */
