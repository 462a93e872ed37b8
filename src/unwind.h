/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack=dwarf: user stacks unwound in userspace from a sample's
 * registers and copied stack, with the call frame information (.eh_frame,
 * .debug_frame) of the binaries the process mapped, as perf does for
 * --call-graph dwarf.
 */
#ifndef __KLEAK_UNWIND_H
#define __KLEAK_UNWIND_H

#include <stdbool.h>
#include "kleak.h"
#include "umaps.h"

struct unwind;

/* An unwinder over the mappings in maps (not owned); NULL with errno set. */
struct unwind *unwind__new(const struct umaps *maps);
void unwind__free(struct unwind *uw);

/* Drops what was kept to unwind process tgid's samples (it exited, and they are unwound). */
void unwind__forget(struct unwind *uw, __u32 tgid);

enum unwind_end {
	UNWIND_COMPLETE,	/* the outermost frame was reached */
	UNWIND_TRUNCATED,	/* there were frames past the depth */
	UNWIND_FAILED,		/* no call frame information, or past the stack copied */
};

/*
 * Unwinds sample into u, at most depth frames, each as a build ID and a
 * file offset (status KLEAK_UFRAME_VALID), or a raw address outside every
 * known mapping (KLEAK_UFRAME_IP), and says how the unwinding ended in
 * *end. 0, or -ENOENT for a process whose mappings are not known, -ENOMEM.
 */
int unwind__sample(struct unwind *uw, const struct kleak_usample *sample, __u32 depth,
		   struct kleak_ustack *u, enum unwind_end *end);

#endif /* __KLEAK_UNWIND_H */
