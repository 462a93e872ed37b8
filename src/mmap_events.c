// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PERF_RECORD_MMAP2, FORK, COMM(exec) and EXIT events into umaps (see
 * mmap_events.h). One dummy event per CPU: the kernel refuses to map the
 * buffer of an inherited per-task event (cpu -1), so inheritance needs one
 * per CPU, as perf record opens them. Each record ends in its time, on
 * CLOCK_MONOTONIC as BPF's timestamps are, and a drain applies every ring's
 * records in time order.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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
	bool build_ids;
	int epfd;	/* every ring's descriptor, for the run's loop */
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
	union {
		struct {
			__u32 maj, min;
			__u64 ino, ino_generation;
		};
		/* PERF_RECORD_MISC_MMAP_BUILD_ID */
		struct {
			__u8 build_id_size;
			__u8 reserved1;
			__u16 reserved2;
			__u8 build_id[20];
		};
	};
	__u32 prot, flags;
	char filename[];
};

/* PERF_RECORD_FORK and PERF_RECORD_EXIT */
struct task_rec {
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

static int open_rings(struct mmap_events *me, struct perf_event_attr *attr, pid_t pid);

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
		/* every record wakes the loop: a new binary is read while its process lives */
		.watermark = 1,
		.wakeup_watermark = 1,
		/*
		 * each record ends in its time: the rings of two CPUs are read
		 * one after the other; a process is forgotten once a sample
		 * (BPF's clock) comes after its exit
		 */
		.sample_id_all = 1,
		.sample_type = PERF_SAMPLE_TIME,
		.use_clockid = 1,
		.clockid = CLOCK_MONOTONIC,
		.build_id = 1,
	};
	struct mmap_events *me = calloc(1, sizeof(*me));
	int ncpu = sysconf(_SC_NPROCESSORS_CONF), err;

	if (!me)
		return NULL;
	me->maps = maps;
	me->page = sysconf(_SC_PAGESIZE);
	me->epfd = epoll_create1(EPOLL_CLOEXEC);
	me->rings = calloc(ncpu > 0 ? ncpu : 1, sizeof(*me->rings));
	if (me->epfd < 0 || !me->rings)
		goto err_out;
	me->build_ids = true;
	err = open_rings(me, &attr, pid);
	/* before 5.12 the build_id bit is reserved: the kernel refuses it */
	if (err == -EINVAL || err == -E2BIG) {
		attr.build_id = 0;
		me->build_ids = false;
		err = open_rings(me, &attr, pid);
	}
	if (!err)
		return me;
	errno = -err;
err_out:
	err = errno;
	mmap_events__free(me);
	errno = err;
	return NULL;
}

static void close_rings(struct mmap_events *me)
{
	int i;

	for (i = 0; i < me->n; i++) {
		munmap(me->rings[i].base, (DATA_PAGES + 1) * me->page);
		close(me->rings[i].fd);
	}
	me->n = 0;
}

/* One event and its ring per online CPU; 0 or -errno, with none left open. */
static int open_rings(struct mmap_events *me, struct perf_event_attr *attr, pid_t pid)
{
	int ncpu = sysconf(_SC_NPROCESSORS_CONF), i, err;

	for (i = 0; i < ncpu; i++) {
		struct cpu_ring *r = &me->rings[me->n];

		r->fd = syscall(SYS_perf_event_open, attr, pid, i, -1, PERF_FLAG_FD_CLOEXEC);
		if (r->fd < 0) {
			/* an offline CPU has no event: the others cover the tasks */
			if (errno == ENODEV)
				continue;
			err = -errno;
			goto err_out;
		}
		r->base = mmap(NULL, (DATA_PAGES + 1) * me->page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->fd, 0);
		if (r->base == MAP_FAILED) {
			err = -errno;
			close(r->fd);
			goto err_out;
		}
		me->n++;
		if (epoll_ctl(me->epfd, EPOLL_CTL_ADD, r->fd,
			      &(struct epoll_event){ .events = EPOLLIN })) {
			err = -errno;
			goto err_out;
		}
	}
	if (me->n)
		return 0;
	err = -ENODEV;
err_out:
	close_rings(me);
	return err;
}

void mmap_events__free(struct mmap_events *me)
{
	if (!me)
		return;
	close_rings(me);
	if (me->epfd >= 0)
		close(me->epfd);
	free(me->rings);
	free(me->pending);
	free(me);
}

int mmap_events__parse(const void *rec, size_t size, struct mmap_record *out)
{
	const struct perf_event_header *h = rec;
	const struct mmap2_rec *m = rec;
	const struct task_rec *t = rec;
	const struct comm_rec *c = rec;
	size_t name_len;

	memset(out, 0, sizeof(*out));
	if (size < sizeof(*h) + sizeof(out->time) || h->size != size)
		return -EINVAL;
	memcpy(&out->time, (const char *)rec + size - sizeof(out->time), sizeof(out->time));
	size -= sizeof(out->time);
	out->type = h->type;
	switch (h->type) {
	case PERF_RECORD_MMAP2:
		if (size < sizeof(*m) + 1)
			return -EINVAL;
		if (!(m->prot & PROT_EXEC) || m->filename[0] != '/')
			return -ENOENT;
		name_len = strnlen(m->filename, size - sizeof(*m));
		out->pid = m->pid;
		out->line = (struct umaps_line){
			.start = m->addr, .end = m->addr + m->len, .pgoff = m->pgoff,
			.exec = true, .path = m->filename, .path_len = name_len,
		};
		if (out->line.end < out->line.start)
			return -EINVAL;
		if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
			if (!m->build_id_size || m->build_id_size > sizeof(m->build_id))
				return -EINVAL;
			out->line.build_id_len = m->build_id_size;
			memcpy(out->line.build_id, m->build_id, m->build_id_size);
		} else {
			out->line.dev = (__u64)m->maj << 32 | m->min;
			out->line.inode = m->ino;
		}
		return 0;
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (size < sizeof(*t))
			return -EINVAL;
		/* a new process (not a thread), or the end of one (its leader) */
		if (h->type == PERF_RECORD_FORK ? t->pid == t->ppid : t->pid != t->tid)
			return -ENOENT;
		out->pid = t->pid;
		out->ppid = t->ppid;
		return 0;
	case PERF_RECORD_COMM:
		if (size < sizeof(*c))
			return -EINVAL;
		if (!(h->misc & PERF_RECORD_MISC_COMM_EXEC) || c->pid != c->tid)
			return -ENOENT;
		out->pid = c->pid;
		return 0;
	case PERF_RECORD_LOST:
		if (size < sizeof(struct lost_rec))
			return -EINVAL;
		out->lost = ((const struct lost_rec *)rec)->lost;
		return 0;
	default:
		return -ENOENT;
	}
}

int mmap_events__apply(struct umaps *maps, const struct mmap_record *r, umaps_read_fn read)
{
	switch (r->type) {
	case PERF_RECORD_MMAP2:
		return umaps__add_mapping(maps, r->pid, &r->line, r->time, read);
	case PERF_RECORD_FORK:
		return umaps__fork(maps, r->ppid, r->pid, r->time);
	case PERF_RECORD_COMM:
		return umaps__exec(maps, r->pid, r->time);
	case PERF_RECORD_EXIT:
		umaps__exit(maps, r->pid, r->time);
		return 0;
	default:
		return 0;
	}
}

static int on_record(struct mmap_events *me, const struct perf_event_header *h)
{
	struct mmap_record r;

	if (mmap_events__parse(h, h->size, &r))
		return 0;
	if (r.type == PERF_RECORD_LOST)
		me->lost += r.lost;
	return mmap_events__apply(me->maps, &r, umaps__read_mapped);
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
	struct epoll_event evs[16];
	size_t i;
	int k, err = 0;

	/* the rings' wakeups, taken: each is drained below whichever woke */
	while (epoll_wait(me->epfd, evs, 16, 0) == 16)
		;
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

int mmap_events__fd(const struct mmap_events *me)
{
	return me->epfd;
}

bool mmap_events__has_build_ids(const struct mmap_events *me)
{
	return me->build_ids;
}

__u64 mmap_events__lost(const struct mmap_events *me)
{
	return me->lost;
}
