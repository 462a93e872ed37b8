/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Diagnostics: every message goes to stderr as one "kleak: ..." line.
 * Results go to stdout and never through these.
 */
#ifndef __KLEAK_LOG_H
#define __KLEAK_LOG_H

#include <stdbool.h>

/* Userspace uses __u64 and friends; kernel short types only in BPF code. */
#pragma GCC poison u8 u16 u32 u64 s8 s16 s32 s64

extern bool log_verbose;

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress the user should see, such as "tracing ...". */
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed only with -v. */
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* __KLEAK_LOG_H */
