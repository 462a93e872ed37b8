// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * From the BPF side's user stacks to model frames (see ustack.h). A frame
 * with a build ID is resolved in the binary of that build ID, wherever a
 * traced process mapped it; a raw-IP frame (the kernel could not read the
 * build ID) through the mappings of the process that made the stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "buildid.h"
#include "log.h"
#include "umaps.h"
#include "ustack.h"
#include "usym.h"

struct ustack {
	const struct tracer *t;
	struct umaps *maps;
	struct usym *syms;
};

struct ustack *ustack__new(const struct tracer *t)
{
	struct ustack *us = calloc(1, sizeof(*us));

	if (!us)
		return NULL;
	us->t = t;
	us->maps = umaps__new();
	us->syms = usym__new();
	if (!us->maps || !us->syms) {
		ustack__free(us);
		errno = ENOMEM;
		return NULL;
	}
	return us;
}

void ustack__free(struct ustack *us)
{
	if (!us)
		return;
	umaps__free(us->maps);
	usym__free(us->syms);
	free(us);
}

/* The stack of hash into a malloc'd kleak_ustack; NULL where the map lacks it. */
static struct kleak_ustack *read_stack(const struct ustack *us, __u64 hash)
{
	struct kleak_ustack *u = calloc(1, sizeof(*u));

	/* the value is sized by --ustack-depth, at most the struct */
	if (u && !bpf_map_lookup_elem(us->t->ustacks_fd, &hash, u)) {
		if (u->nframes > us->t->ustack_depth)
			u->nframes = us->t->ustack_depth;
		return u;
	}
	free(u);
	return NULL;
}

/* Whether the mappings read so far place every frame of u. */
static bool stack_known(const struct ustack *us, const struct kleak_ustack *u)
{
	__u32 i;

	for (i = 0; i < u->nframes; i++) {
		const struct kleak_uframe *f = &u->frames[i];

		if (f->status == KLEAK_UFRAME_VALID ? !umaps__binary_of(us->maps, f->build_id) :
		    !umaps__find(us->maps, u->tgid, f->offset))
			return false;
	}
	return true;
}

/*
 * A new user stack: its process's mappings are read now, while it lives,
 * unless every frame is placed already (libraries are mapped after a
 * process's first allocations, so a read at first sight alone misses them).
 */
int ustack__on_proc(void *ctx, void *data, size_t size)
{
	const struct kleak_proc_event *ev = data;
	struct ustack *us = ctx;
	struct kleak_ustack *u;
	int err = 0;

	if (size < sizeof(*ev))
		return 0;
	u = read_stack(us, ev->ustack);
	if (!u || !stack_known(us, u))
		err = umaps__add_proc(us->maps, ev->tgid);
	free(u);
	if (err == -ENOMEM)
		return err;
	if (err)
		pr_debug("mappings of process %u not read: %s", ev->tgid, strerror(-err));
	return 0;
}

/* One frame: its binary and offset from the build ID, or from the process's mappings. */
static int fill_frame(struct ustack *us, const struct kleak_uframe *uf, __u32 tgid,
		      bool is_return, struct model_uframe *f)
{
	const struct umap *m = NULL, *bin = NULL;
	const __u8 *id = NULL;

	f->offset = uf->offset;
	if (uf->status == KLEAK_UFRAME_VALID) {
		id = uf->build_id;
	} else {
		m = umaps__find(us->maps, tgid, uf->offset);
		if (!m)
			return 0;
		f->offset = uf->offset - m->start + m->pgoff;
		if (m->has_build_id)
			id = m->build_id;
	}
	if (id)
		bin = umaps__binary_of(us->maps, id);
	if (!bin)
		bin = m;
	if (bin) {
		f->module = strdup(bin->path);
		if (!f->module)
			return -ENOMEM;
	}
	if (!id)
		return 0;
	buildid__hex(id, f->build_id);
	return usym__resolve(us->syms, id, bin ? bin->path : NULL,
			     bin && bin->has_build_id ? &bin->loads : NULL, f->offset, is_return, f);
}

int ustack__fill(struct ustack *us, __u64 hash, struct model_site *s, __u64 *stats)
{
	struct kleak_ustack *u = read_stack(us, hash);
	__u32 i;
	int err = 0;

	if (!u)
		return 0;
	s->uframes = calloc(u->nframes ? u->nframes : 1, sizeof(*s->uframes));
	if (!s->uframes) {
		free(u);
		return -ENOMEM;
	}
	for (i = 0; i < u->nframes && !err; i++) {
		struct model_uframe *f = &s->uframes[s->n_uframes++];

		err = fill_frame(us, &u->frames[i], u->tgid, i > 0, f);
		if (!f->sym)
			stats[STAT_USTACK_UNRESOLVED]++;
		if (f->replaced)
			stats[STAT_USTACK_REPLACED]++;
	}
	free(u);
	return err;
}

__u64 ustack__maps_missed(const struct ustack *us)
{
	return umaps__missed(us->maps);
}
