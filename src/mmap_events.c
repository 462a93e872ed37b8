// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PERF_RECORD_MMAP2, FORK and COMM(exec) events into umaps (see
 * mmap_events.h). One dummy event per CPU: the kernel refuses to map the
 * buffer of an inherited per-task event (cpu -1), so inheritance needs one
 * per CPU, as perf record opens them. Each record ends in its time, and a
 * drain applies every ring's records in time order.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "buildid.h"
#include "mmap_events.h"

/* 64 pages of records per CPU: an exec maps a few dozen, each ~100 bytes */
#define DATA_PAGES 64

struct cpu_ring {
	int fd;
	void *base;
};

/* A record copied out of its ring, to be applied in time order with the other CPUs' */
struct pending {
	__u64 time;
	__u64 seq;	/* ties keep ring order */
	struct perf_event_header *h;
};

struct mmap_events {
	struct umaps *maps;
	int n;
	struct cpu_ring *rings;
	size_t page;
	__u64 lost;
	size_t n_pending;
	size_t cap_pending;
	struct pending *pending;
};

struct mmap2_rec {
	struct perf_event_header h;
	__u32 pid, tid;
	__u64 addr, len, pgoff;
	__u32 maj, min;
	__u64 ino, ino_generation;
	__u32 prot, flags;
	char filename[];
};

struct fork_rec {
	struct perf_event_header h;
	__u32 pid, ppid, tid, ptid;
	__u64 time;
};

struct comm_rec {
	struct perf_event_header h;
	__u32 pid, tid;
	char comm[];
};

struct lost_rec {
	struct perf_event_header h;
	__u64 id, lost;
};

struct mmap_events *mmap_events__open(pid_t pid, struct umaps *maps)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.mmap = 1,
		.mmap2 = 1,
		.comm = 1,
		.task = 1,
		.inherit = pid != -1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
		.watermark = 1,
		.wakeup_watermark = 1,
		/* each record ends in its time: the rings of two CPUs are read one after the other */
		.sample_id_all = 1,
		.sample_type = PERF_SAMPLE_TIME,
	};
	struct mmap_events *me = calloc(1, sizeof(*me));
	int ncpu = sysconf(_SC_NPROCESSORS_CONF), i, err;

	if (!me)
		return NULL;
	me->maps = maps;
	me->page = sysconf(_SC_PAGESIZE);
	me->rings = calloc(ncpu > 0 ? ncpu : 1, sizeof(*me->rings));
	if (!me->rings)
		goto err_out;
	for (i = 0; i < ncpu; i++) {
		struct cpu_ring *r = &me->rings[me->n];

		r->fd = syscall(SYS_perf_event_open, &attr, pid, i, -1, PERF_FLAG_FD_CLOEXEC);
		if (r->fd < 0) {
			/* an offline CPU has no event: the others cover the tasks */
			if (errno == ENODEV)
				continue;
			goto err_out;
		}
		r->base = mmap(NULL, (DATA_PAGES + 1) * me->page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);
		if (r->base == MAP_FAILED) {
			close(r->fd);
			goto err_out;
		}
		me->n++;
	}
	if (me->n)
		return me;
	errno = ENODEV;
err_out:
	err = errno;
	mmap_events__free(me);
	errno = err;
	return NULL;
}

void mmap_events__free(struct mmap_events *me)
{
	int i;

	if (!me)
		return;
	for (i = 0; i < me->n; i++) {
		munmap(me->rings[i].base, (DATA_PAGES + 1) * me->page);
		close(me->rings[i].fd);
	}
	free(me->rings);
	free(me->pending);
	free(me);
}

static int on_record(struct mmap_events *me, const struct perf_event_header *h)
{
	const struct mmap2_rec *m = (const void *)h;
	const struct fork_rec *f = (const void *)h;
	const struct comm_rec *c = (const void *)h;
	struct umaps_line l;
	__u64 time;

	if (h->size < sizeof(*h) + sizeof(time))
		return 0;
	memcpy(&time, (const char *)h + h->size - sizeof(time), sizeof(time));
	switch (h->type) {
	case PERF_RECORD_MMAP2:
		if (h->size < sizeof(*m) + 1 + sizeof(time) || !(m->prot & PROT_EXEC) ||
		    (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) || m->filename[0] != '/')
			return 0;
		l = (struct umaps_line){
			.start = m->addr, .end = m->addr + m->len, .pgoff = m->pgoff,
			.dev = (__u64)m->maj << 32 | m->min, .inode = m->ino, .exec = true,
			.path = m->filename,
			.path_len = strnlen(m->filename, h->size - sizeof(*m) - sizeof(time)),
		};
		return umaps__add_mapping(me->maps, m->pid, &l, time, buildid__of_file);
	case PERF_RECORD_FORK:
		/* a new process (not a thread) starts with its parent's mappings */
		if (h->size < sizeof(*f) || f->pid == f->ppid)
			return 0;
		return umaps__fork(me->maps, f->ppid, f->pid, f->time);
	case PERF_RECORD_COMM:
		if (h->size >= sizeof(*c) && (h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    c->pid == c->tid)
			return umaps__exec(me->maps, c->pid, time);
		return 0;
	case PERF_RECORD_LOST:
		if (h->size >= sizeof(struct lost_rec))
			me->lost += ((const struct lost_rec *)h)->lost;
		return 0;
	default:
		return 0;
	}
}

/* Copies the ring's records out (whole where the ring's end cuts one in two). */
static int drain_ring(struct mmap_events *me, struct cpu_ring *r)
{
	struct perf_event_mmap_page *mp = r->base;
	size_t size = DATA_PAGES * me->page;
	char *data = (char *)r->base + me->page;
	__u64 head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE), tail = mp->data_tail;
	struct pending *grown;
	int err = 0;

	while (tail < head) {
		const struct perf_event_header *h = (const void *)(data + tail % size);
		size_t off = tail % size, n, sz = h->size;
		struct perf_event_header *c;

		if (sz < sizeof(*h) + sizeof(__u64) || sz > head - tail)
			break;
		if (me->n_pending == me->cap_pending) {
			me->cap_pending = me->cap_pending ? me->cap_pending * 2 : 256;
			grown = realloc(me->pending, me->cap_pending * sizeof(*grown));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			me->pending = grown;
		}
		c = malloc(sz);
		if (!c) {
			err = -ENOMEM;
			break;
		}
		n = off + sz > size ? size - off : sz;
		memcpy(c, data + off, n);
		memcpy((char *)c + n, data, sz - n);
		memcpy(&me->pending[me->n_pending].time, (char *)c + sz - sizeof(__u64),
		       sizeof(__u64));
		me->pending[me->n_pending].seq = me->n_pending;
		me->pending[me->n_pending++].h = c;
		tail += sz;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
	return err;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Every ring's records, applied in time order: a process that moved to
 * another CPU while it exec'd has its exec in one ring and its mappings in
 * another.
 */
int mmap_events__drain(struct mmap_events *me)
{
	size_t i;
	int k, err = 0;

	for (k = 0; k < me->n && !err; k++)
		err = drain_ring(me, &me->rings[k]);
	qsort(me->pending, me->n_pending, sizeof(*me->pending), cmp_pending);
	for (i = 0; i < me->n_pending; i++) {
		if (!err)
			err = on_record(me, me->pending[i].h);
		free(me->pending[i].h);
	}
	me->n_pending = 0;
	return err;
}

__u64 mmap_events__lost(const struct mmap_events *me)
{
	return me->lost;
}
