/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack in userspace: the processes the BPF side announces get their
 * mappings read (umaps.c), and a report turns each site's user stack from
 * the ustacks map into symbolized model frames (usym.c).
 */
#ifndef __KLEAK_USTACK_H
#define __KLEAK_USTACK_H

#include <stddef.h>
#include "loader.h"
#include "model.h"

struct ustack;

/* Returns the state for one run of tracer t, or NULL with errno set. */
struct ustack *ustack__new(const struct tracer *t);
void ustack__free(struct ustack *us);

/* ring_buffer_sample_fn for the ustack_procs ring buffer; ctx is the struct ustack. */
int ustack__on_proc(void *ctx, void *data, size_t size);

/*
 * Fills s->uframes from user stack hash of the ustacks map, symbolized;
 * counts frames without a symbol and frames whose binary was replaced in
 * stats. A stack missing from the map leaves the site without frames. 0 or
 * -ENOMEM.
 */
int ustack__fill(struct ustack *us, __u64 hash, struct model_site *s, __u64 *stats);

/* Processes whose mappings could not be read. */
__u64 ustack__maps_missed(const struct ustack *us);

#endif /* __KLEAK_USTACK_H */
