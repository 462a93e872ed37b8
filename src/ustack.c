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
#include "mmap_events.h"
#include "snapshot.h"
#include "umaps.h"
#include "unwind.h"
#include "ustack.h"
#include "usym.h"

/* Samples kept before the table is pruned of freed allocations' (see samples_grow()) */
#define SAMPLES_PRUNE_AT 65536

/* --ustack=dwarf: an allocation's unwound user stack, by its address and timestamp */
struct sampled {
	__u64 addr;	/* 0: a free slot */
	__u64 ts_ns;
	__u32 stack;	/* index + 1 into stacks */
	__u32 seen;	/* the report that last found it outstanding */
};

struct ustack {
	const struct tracer *t;
	struct umaps *maps;
	struct usym *syms;
	/* --ustack=dwarf */
	struct unwind *uw;
	struct mmap_events *me;		/* NULL: mappings from /proc only */
	size_t n_stacks;
	struct kleak_ustack *stacks;	/* distinct unwound stacks */
	__u64 *stack_hashes;
	__u32 *canon;			/* per stack, the index + 1 of its equal (see resolve_late()) */
	size_t n_canon;
	size_t cap_samples;		/* a power of two */
	size_t n_samples;
	struct sampled *samples;	/* open addressing by address and timestamp */
	__u32 report;
	__u64 unwind_failed;
	__u64 truncated;
};

struct ustack *ustack__new(const struct tracer *t)
{
	struct ustack *us = calloc(1, sizeof(*us));

	if (!us)
		return NULL;
	us->t = t;
	us->maps = umaps__new();
	us->syms = usym__new(USYM_DEBUG_DIR);
	us->uw = us->maps ? unwind__new(us->maps) : NULL;
	if (!us->maps || !us->syms || !us->uw) {
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
	unwind__free(us->uw);
	mmap_events__free(us->me);
	umaps__free(us->maps);
	usym__free(us->syms);
	free(us->stacks);
	free(us->stack_hashes);
	free(us->canon);
	free(us->samples);
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
	const struct ubin *bin = NULL;
	const struct umap *m = NULL;
	const __u8 *id = NULL;
	const char *module;

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
		/* no build ID, and the file at its path is another: never read in its place */
		f->replaced = m->replaced && !id;
	}
	if (id)
		bin = umaps__binary_of(us->maps, id);
	module = bin ? bin->path : m ? m->path : NULL;
	if (module) {
		f->module = strdup(module);
		if (!f->module)
			return -ENOMEM;
	}
	if (!id)
		return 0;
	buildid__hex(id, f->build_id);
	return usym__resolve(us->syms, id, bin, f->offset, is_return, f);
}

/* The site's user frames from u, symbolized. */
static int fill_from(struct ustack *us, const struct kleak_ustack *u, struct model_site *s,
		     __u64 *stats)
{
	__u32 i;
	int err = 0;

	s->uframes = calloc(u->nframes ? u->nframes : 1, sizeof(*s->uframes));
	if (!s->uframes)
		return -ENOMEM;
	for (i = 0; i < u->nframes && !err; i++) {
		struct model_uframe *f = &s->uframes[s->n_uframes++];

		err = fill_frame(us, &u->frames[i], u->tgid, i > 0, f);
		if (!f->sym)
			stats[STAT_USTACK_UNRESOLVED]++;
		if (f->replaced)
			stats[STAT_USTACK_REPLACED]++;
	}
	return err;
}

int ustack__fill(struct ustack *us, __u64 hash, struct model_site *s, __u64 *stats)
{
	struct kleak_ustack *u = read_stack(us, hash);
	int err;

	if (!u)
		return 0;
	err = fill_from(us, u, s, stats);
	free(u);
	return err;
}

int ustack__fill_sampled(struct ustack *us, __u32 stack, struct model_site *s, __u64 *stats)
{
	if (!stack || stack > us->n_stacks)
		return 0;
	return fill_from(us, &us->stacks[stack - 1], s, stats);
}

static __u64 frames_hash(const struct kleak_ustack *u)
{
	const unsigned char *p = (const unsigned char *)u->frames;
	size_t i, n = u->nframes * sizeof(u->frames[0]);
	__u64 h = 0xcbf29ce484222325ULL;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* The index + 1 of u among the distinct stacks, added if new; 0 out of memory. */
static __u32 intern(struct ustack *us, const struct kleak_ustack *u)
{
	__u64 h = frames_hash(u), *hashes;
	struct kleak_ustack *grown;
	size_t i;

	/* distinct user stacks are few (one per call path): a scan of their hashes */
	for (i = 0; i < us->n_stacks; i++)
		if (us->stack_hashes[i] == h && us->stacks[i].nframes == u->nframes &&
		    !memcmp(us->stacks[i].frames, u->frames, u->nframes * sizeof(u->frames[0])))
			return i + 1;
	grown = realloc(us->stacks, (us->n_stacks + 1) * sizeof(*grown));
	if (!grown)
		return 0;
	us->stacks = grown;
	hashes = realloc(us->stack_hashes, (us->n_stacks + 1) * sizeof(*hashes));
	if (!hashes)
		return 0;
	us->stack_hashes = hashes;
	us->stacks[us->n_stacks] = *u;
	us->stack_hashes[us->n_stacks] = h;
	return ++us->n_stacks;
}

static size_t slot_of(const struct ustack *us, __u64 addr, __u64 ts_ns)
{
	__u64 h = (addr ^ ts_ns * 0x9e3779b97f4a7c15ULL) * 0xc2b2ae3d27d4eb4fULL;

	return (h >> 17) & (us->cap_samples - 1);
}

static struct sampled *sample_find(const struct ustack *us, __u64 addr, __u64 ts_ns, bool *found)
{
	size_t i;

	for (i = slot_of(us, addr, ts_ns);; i = (i + 1) & (us->cap_samples - 1)) {
		struct sampled *e = &us->samples[i];

		*found = e->addr == addr && e->ts_ns == ts_ns;
		if (*found || !e->addr)
			return e;
	}
}

/* Rehashes into a table of cap slots, keeping the entries keep() wants. */
static int samples_rehash(struct ustack *us, size_t cap, __u32 keep_report, __u64 keep_after)
{
	struct sampled *old = us->samples, *e;
	size_t old_cap = us->cap_samples, i;
	bool found;

	us->samples = calloc(cap, sizeof(*us->samples));
	if (!us->samples) {
		us->samples = old;
		return -ENOMEM;
	}
	us->cap_samples = cap;
	us->n_samples = 0;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].addr ||
		    (keep_report && old[i].seen != keep_report && old[i].ts_ns < keep_after))
			continue;
		e = sample_find(us, old[i].addr, old[i].ts_ns, &found);
		*e = old[i];
		us->n_samples++;
	}
	free(old);
	return 0;
}

/*
 * A frame unwound before its process's mappings were known is a raw
 * address; once they are (the mmap events of another CPU read later), it is
 * the same build ID and offset as everyone else's.
 */
static void place_frames(struct ustack *us, struct kleak_ustack *u)
{
	const struct umap *m;
	__u32 f;

	for (f = 0; f < u->nframes; f++) {
		struct kleak_uframe *fr = &u->frames[f];

		if (fr->status != KLEAK_UFRAME_IP)
			continue;
		m = umaps__find(us->maps, u->tgid, fr->offset);
		if (!m || !m->has_build_id)
			continue;
		fr->status = KLEAK_UFRAME_VALID;
		memcpy(fr->build_id, m->build_id, sizeof(fr->build_id));
		fr->offset = fr->offset - m->start + m->pgoff;
	}
}

/*
 * A process that exited, every sample of it unwound: its stacks' frames are
 * placed while its mappings are there, then what unwound it goes. Its
 * stacks name no process from then on: another that gets its id later has
 * other mappings, which must never place them.
 */
static void forget_proc(void *ctx, __u32 tgid)
{
	struct ustack *us = ctx;
	size_t i;

	for (i = 0; i < us->n_stacks; i++)
		if (us->stacks[i].tgid == tgid) {
			place_frames(us, &us->stacks[i]);
			us->stack_hashes[i] = frames_hash(&us->stacks[i]);
			us->stacks[i].tgid = 0;
		}
	unwind__forget(us->uw, tgid);
}

/*
 * Room for more samples. Userspace sees no frees: a run without reports
 * would keep a sample of every allocation ever made. A table of some size
 * first lets go of the samples of allocations no longer recorded (freed),
 * and doubles only if what is left fills more than three eighths of it: at
 * least an eighth of it fills before the next pass over the records.
 */
static int samples_grow(struct ustack *us)
{
	__u64 *addrs = NULL, *ts = NULL;
	bool *recorded = NULL;
	size_t i, n = 0;
	int err = 0;

	if (us->cap_samples >= SAMPLES_PRUNE_AT) {
		addrs = malloc(us->n_samples * sizeof(*addrs));
		ts = malloc(us->n_samples * sizeof(*ts));
		recorded = malloc(us->n_samples * sizeof(*recorded));
		if (!addrs || !ts || !recorded) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < us->cap_samples; i++)
			if (us->samples[i].addr) {
				addrs[n] = us->samples[i].addr;
				ts[n++] = us->samples[i].ts_ns;
			}
		err = snapshot__records_live(us->t, addrs, ts, n, recorded);
		for (i = n = 0; !err && i < us->cap_samples; i++)
			if (us->samples[i].addr && !recorded[n++])
				us->samples[i].addr = 0;
		if (!err)
			err = samples_rehash(us, us->cap_samples, 0, 0);
		if (err || us->n_samples * 8 < us->cap_samples * 3)
			goto out;
	}
	err = samples_rehash(us, us->cap_samples ? us->cap_samples * 2 : 4096, 0, 0);
out:
	free(addrs);
	free(ts);
	free(recorded);
	return err;
}

/* Unwinds, with the process's mappings read first where they are not known. */
static int unwind_sample(struct ustack *us, const struct kleak_usample *smp,
			 struct kleak_ustack *u)
{
	enum unwind_end end;
	size_t n = 0;
	bool reread = false;
	__u32 gen, i;
	int err;

	if (us->me && mmap_events__drain(us->me))
		return -ENOMEM;
	/* a process that was there before the mmap events (-p): its mappings so far */
	if (!umaps__proc(us->maps, smp->tgid, &n, &gen)) {
		umaps__add_proc(us->maps, smp->tgid);
		reread = true;
	}
	err = unwind__sample(us->uw, smp, us->t->ustack_depth, u, &end);
	/*
	 * A frame in no mapping known: a library mapped since they were read,
	 * if they were read before the allocation ([vdso], JIT code never are)
	 */
	reread |= umaps__read_ns(us->maps, smp->tgid) > smp->ts_ns;
	for (i = 0; !err && !reread && i < u->nframes; i++)
		if (u->frames[i].status != KLEAK_UFRAME_VALID) {
			if (!umaps__add_proc(us->maps, smp->tgid))
				err = unwind__sample(us->uw, smp, us->t->ustack_depth, u, &end);
			break;
		}
	if (!err && end == UNWIND_FAILED)
		us->unwind_failed++;
	if (!err && end == UNWIND_TRUNCATED)
		us->truncated++;
	return err;
}

int ustack__on_sample(void *ctx, void *data, size_t size)
{
	const struct kleak_usample *smp = data;
	struct ustack *us = ctx;
	struct kleak_ustack u;
	struct sampled *e;
	bool found;
	__u32 stack;
	int err;

	/* registers or stack unreadable: counted by the BPF side */
	if (size < sizeof(*smp) || !smp->len || smp->len > sizeof(smp->stack) || !smp->addr)
		return 0;
	err = unwind_sample(us, smp, &u);
	if (err == -ENOMEM)
		return err;
	if (err) {
		us->unwind_failed++;
		return 0;
	}
	stack = intern(us, &u);
	if (!stack)
		return -ENOMEM;
	if (us->n_samples * 2 >= us->cap_samples && samples_grow(us))
		return -ENOMEM;
	e = sample_find(us, smp->addr, smp->ts_ns, &found);
	if (!found)
		us->n_samples++;
	e->addr = smp->addr;
	e->ts_ns = smp->ts_ns;
	e->stack = stack;
	e->seen = us->report;
	/* the ring gives samples in order: every sample of a process that exited before is in */
	umaps__reap(us->maps, smp->ts_ns, forget_proc, us);
	return 0;
}

/* Places late frames, and makes each stack point at the first one equal to it. */
static int resolve_late(struct ustack *us)
{
	__u32 *canon = realloc(us->canon, (us->n_stacks ? us->n_stacks : 1) * sizeof(*canon));
	size_t i, j;

	if (!canon)
		return -ENOMEM;
	us->canon = canon;
	us->n_canon = us->n_stacks;
	for (i = 0; i < us->n_stacks; i++) {
		struct kleak_ustack *u = &us->stacks[i];

		place_frames(us, u);
		us->stack_hashes[i] = frames_hash(u);
		canon[i] = i + 1;
		for (j = 0; j < i; j++)
			if (us->stack_hashes[j] == us->stack_hashes[i] &&
			    us->stacks[j].nframes == u->nframes &&
			    !memcmp(us->stacks[j].frames, u->frames, u->nframes * sizeof(u->frames[0]))) {
				canon[i] = canon[j];
				break;
			}
	}
	return 0;
}

int ustack__prepare_report(struct ustack *us)
{
	int err = us->me ? mmap_events__drain(us->me) : 0;

	/* what the run keeps, which -v shows stays bounded */
	pr_debug("user stacks: mappings of %zu processes kept, %zu distinct stacks, %zu samples",
		 umaps__n_procs(us->maps), us->n_stacks, us->n_samples);

	return err ? err : resolve_late(us);
}

int ustack__fill_event(struct ustack *us, const struct kleak_site *site, __u64 addr,
		       __u64 ts_ns, struct model_site *s)
{
	__u64 stats[STAT_MAX];
	struct kleak_ustack *u;
	struct sampled *e;
	bool found = false;
	int err = 0;

	s->ustate = site->ustate;
	if (site->ustate == KLEAK_USTACK_SAMPLED) {
		if (us->cap_samples)
			e = sample_find(us, addr, ts_ns, &found);
		if (!found)
			return 0;
		s->ustate = KLEAK_USTACK_OK;
		return ustack__fill_sampled(us, e->stack, s, stats);
	}
	if (site->ustate != KLEAK_USTACK_OK)
		return 0;
	u = read_stack(us, site->ustack);
	if (!u)
		return 0;
	/* its announcement may come later than the event: the process is alive now */
	if (!stack_known(us, u))
		umaps__add_proc(us->maps, u->tgid);
	err = fill_from(us, u, s, stats);
	free(u);
	return err;
}

__u32 ustack__stack_of(struct ustack *us, __u64 addr, __u64 ts_ns)
{
	struct sampled *e;
	bool found;

	if (!us->cap_samples)
		return 0;
	e = sample_find(us, addr, ts_ns, &found);
	if (!found)
		return 0;
	e->seen = us->report + 1;
	/* a stack unwound since the report's resolve_late() is its own */
	return e->stack <= us->n_canon ? us->canon[e->stack - 1] : e->stack;
}

void ustack__forget_unseen(struct ustack *us, __u64 now_ns)
{
	/* failing to shrink keeps the table as it is: entries stay valid */
	us->report++;
	if (us->cap_samples)
		samples_rehash(us, us->cap_samples, us->report, now_ns);
}

__u64 ustack__unwind_failed(const struct ustack *us)
{
	return us->unwind_failed;
}

__u64 ustack__truncated(const struct ustack *us)
{
	return us->truncated;
}

int ustack__watch_mmaps(struct ustack *us, pid_t pid)
{
	us->me = mmap_events__open(pid, us->maps);
	if (!us->me)
		return -errno;
	pr_debug("mmap events: the mapped files' build IDs %s", mmap_events__has_build_ids(us->me) ?
		 "from the kernel" : "read from the files (before 5.12)");
	return 0;
}

int ustack__mmaps_fd(const struct ustack *us)
{
	return us->me ? mmap_events__fd(us->me) : -1;
}

int ustack__on_mmaps(struct ustack *us)
{
	return mmap_events__drain(us->me);
}

__u64 ustack__maps_missed(const struct ustack *us)
{
	return umaps__missed(us->maps) + (us->me ? mmap_events__lost(us->me) : 0);
}

