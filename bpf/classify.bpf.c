// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Report-time classification of outstanding objects by who holds them: BPF
 * iterators walk the task list, every fd table, every process's mappings
 * and the tcp, udp and unix socket tables once per report and write what
 * they find in use
 * (struct kleak_held_rec) into their seq file; inspect reads the fields of
 * one object userspace asks about (examples, and socks no walk found).
 * A separate object from kleak.bpf.c, loaded only at report time: the
 * allocation hot path is untouched. Nothing here needs BPF atomics or task
 * storage, so it loads with every program set, compat included (iterators
 * need 5.8, tcp and udp 5.9, task_vma 5.12, unix 5.17; userspace loads
 * those the kernel has).
 */
#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "kleak.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT		00170000
#define S_IFSOCK	0140000
#define TCP_TIME_WAIT	6
#define TCP_NEW_SYN_RECV 12
#define AF_INET		2
#define AF_INET6	10

/*
 * Before 6.13 ("fs: port files to file_ref") a file counted its references
 * in f_count, the count itself; file_ref_t stores it minus one.
 */
struct file___old {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/*
 * inspect's request and result, one object per run: userspace runs it with
 * BPF_PROG_TEST_RUN (raw_tp, 5.10). The map element iterator would take a
 * list at once, but this 6.18 kernel refuses to load map element iterators
 * (EPERM), and a loop over a list would not verify on 5.10 without bpf_loop.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kleak_inspect_req);
} inspect_req SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kleak_inspect);
} inspect_out SEC(".maps");

static __always_inline void emit(struct seq_file *seq, __u64 addr, __u32 type, __u32 pid,
				 __u32 tgid, __u32 fd, __u32 state, __u32 flags)
{
	struct kleak_held_rec r = {
		.addr = addr, .type = type, .pid = pid, .tgid = tgid, .fd = fd,
		.state = state, .flags = flags,
	};

	bpf_seq_write(seq, &r, sizeof(r));
}

static __always_inline __u32 sock_flags(struct sock *sk)
{
	unsigned long flags = BPF_CORE_READ(sk, __sk_common.skc_flags);

	/* SOCK_DEAD is bit 0 of enum sock_flags since before git */
	return flags & 1 ? KLEAK_SOCK_DEAD : 0;
}

static __always_inline void emit_mapped(struct seq_file *seq, struct file *file, __u32 tgid,
					__u64 start, __u64 end)
{
	struct kleak_held_rec r = {
		.addr = (__u64)file, .type = KLEAK_HREC_MAPPED, .pid = tgid, .tgid = tgid,
		.start = start, .end = end,
	};

	bpf_seq_write(seq, &r, sizeof(r));
}

/*
 * A task; a process's leader also names the file it runs (mm->exe_file):
 * the mm holds it, with or without a mapping (on kernels without task_vma
 * the only mapped file kleak sees).
 */
SEC("iter/task")
int held_task(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *exe;
	__u32 pid, tgid;

	if (!task)
		return 0;
	pid = BPF_CORE_READ(task, pid);
	tgid = BPF_CORE_READ(task, tgid);
	emit(ctx->meta->seq, (__u64)task, KLEAK_HREC_TASK, pid, tgid, 0,
	     BPF_CORE_READ(task, exit_state), 0);
	exe = pid == tgid ? BPF_CORE_READ(task, mm, exe_file) : NULL;
	if (exe)
		emit_mapped(ctx->meta->seq, exe, tgid, 0, 0);
	return 0;
}

/* A mapping of a file: every vma of it, merged by userspace (classify.c). */
SEC("iter/task_vma")
int held_vma(struct bpf_iter__task_vma *ctx)
{
	struct vm_area_struct *vma = ctx->vma;
	struct task_struct *task = ctx->task;
	struct file *file;

	if (!task || !vma)
		return 0;
	file = BPF_CORE_READ(vma, vm_file);
	if (file)
		emit_mapped(ctx->meta->seq, file, BPF_CORE_READ(task, tgid),
			    BPF_CORE_READ(vma, vm_start), BPF_CORE_READ(vma, vm_end));
	return 0;
}

/* A file in an fd table; a socket's file also names its socket and sock. */
SEC("iter/task_file")
int held_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct socket *sock;
	struct sock *sk;
	__u32 tgid, mode;

	if (!task || !file)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	emit(ctx->meta->seq, (__u64)file, KLEAK_HREC_FILE, tgid, tgid, ctx->fd, 0, 0);
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	/* sock_alloc_file() keeps the struct socket in private_data */
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return 0;
	emit(ctx->meta->seq, (__u64)sock, KLEAK_HREC_SOCKET, tgid, tgid, ctx->fd, 0, 0);
	sk = BPF_CORE_READ(sock, sk);
	if (sk)
		emit(ctx->meta->seq, (__u64)sk, KLEAK_HREC_SOCK, tgid, tgid, ctx->fd,
		     BPF_CORE_READ(sk, __sk_common.skc_state), sock_flags(sk));
	return 0;
}

static __always_inline void emit_table(struct seq_file *seq, struct sock *sk)
{
	emit(seq, (__u64)sk, KLEAK_HREC_SOCK_TABLE, 0, 0, 0,
	     BPF_CORE_READ(sk, __sk_common.skc_state), sock_flags(sk));
}

SEC("iter/tcp")
int held_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u8 state;

	if (!skc)
		return 0;
	/* time-wait and request socks are of other caches, and no struct sock */
	state = BPF_CORE_READ(skc, skc_state);
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return 0;
	emit_table(ctx->meta->seq, (struct sock *)skc);
	return 0;
}

SEC("iter/udp")
int held_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		emit_table(ctx->meta->seq, (struct sock *)udp);
	return 0;
}

SEC("iter/unix")
int held_unix(struct bpf_iter__unix *ctx)
{
	struct unix_sock *unix_sk = ctx->unix_sk;

	if (unix_sk)
		emit_table(ctx->meta->seq, (struct sock *)unix_sk);
	return 0;
}

static __always_inline void read_task(struct kleak_inspect *o, struct task_struct *t)
{
	o->pid = BPF_CORE_READ(t, pid);
	o->tgid = BPF_CORE_READ(t, tgid);
	o->state = BPF_CORE_READ(t, exit_state);
	o->flags = BPF_CORE_READ(t, flags);
	o->start_ns = BPF_CORE_READ(t, start_time);
	o->last_ran_ns = BPF_CORE_READ(t, se.exec_start);
	BPF_CORE_READ_STR_INTO(&o->comm, t, comm);
}

/*
 * The file's path from its dentry names, innermost first, crossing into the
 * mount each mount's root sits on, as d_path() does: KLEAK_PATH_COMPS names
 * at most. Where the walk reaches kleak's root (the program runs in kleak,
 * by BPF_PROG_TEST_RUN) or the root of a mount tree, KLEAK_PATH_FULL;
 * at a pseudo filesystem's root ("anon_inode:", "pipe:"), KLEAK_PATH_PSEUDO
 * with that name last.
 */
static __always_inline void read_path(struct kleak_inspect *o, struct file *f)
{
	struct vfsmount *vmnt = BPF_CORE_READ(f, f_path.mnt);
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry), *parent, *root;
	/* kleak's own root, where d_path() stops too: a chroot's paths are its own */
	struct task_struct *self = (void *)bpf_get_current_task();
	struct dentry *self_root = BPF_CORE_READ(self, fs, root.dentry);
	struct vfsmount *self_mnt = BPF_CORE_READ(self, fs, root.mnt);
	struct mount *mnt, *up;
	int i, n = 0;

	if (!vmnt || !d)
		return;
	mnt = (void *)vmnt - bpf_core_field_offset(struct mount, mnt);
	for (i = 0; i < KLEAK_PATH_COMPS + 4; i++) {
		if (d == self_root && (void *)mnt + bpf_core_field_offset(struct mount, mnt) ==
				      (void *)self_mnt) {
			o->flags = KLEAK_PATH_FULL;
			if (n < KLEAK_PATH_COMPS)
				o->name[n][0] = '\0';
			return;
		}
		root = BPF_CORE_READ(mnt, mnt.mnt_root);
		parent = BPF_CORE_READ(d, d_parent);
		if (d == root || d == parent) {
			up = BPF_CORE_READ(mnt, mnt_parent);
			if (up != mnt) {
				d = BPF_CORE_READ(mnt, mnt_mountpoint);
				mnt = up;
				continue;
			}
			o->flags = KLEAK_PATH_FULL;
			if (n < KLEAK_PATH_COMPS) {
				bpf_probe_read_kernel_str(o->name[n], KLEAK_NAME_LEN,
							  BPF_CORE_READ(d, d_name.name));
				if (o->name[n][0] != '/')
					o->flags |= KLEAK_PATH_PSEUDO;
				else
					o->name[n][0] = '\0';
			}
			return;
		}
		if (n == KLEAK_PATH_COMPS)
			return;
		bpf_probe_read_kernel_str(o->name[n], KLEAK_NAME_LEN, BPF_CORE_READ(d, d_name.name));
		n++;
		d = parent;
	}
}

static __always_inline void read_file(struct kleak_inspect *o, struct file *f)
{
	struct file___old *old = (void *)f;

	if (bpf_core_field_exists(old->f_count))
		o->count = BPF_CORE_READ(old, f_count.counter);
	else
		o->count = BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
	o->mode = BPF_CORE_READ(f, f_inode, i_mode);
	read_path(o, f);
}

static __always_inline void read_sock(struct kleak_inspect *o, struct sock *sk)
{
	struct sock_common *c = &sk->__sk_common;

	o->family = BPF_CORE_READ(c, skc_family);
	o->state = BPF_CORE_READ(c, skc_state);
	o->flags = sock_flags(sk);
	o->has_socket = BPF_CORE_READ(sk, sk_socket) != NULL;
	if (o->family != AF_INET && o->family != AF_INET6)
		return;
	o->sport = BPF_CORE_READ(c, skc_num);
	o->dport = __builtin_bswap16(BPF_CORE_READ(c, skc_dport));
	/* the address fields' own sizes: BPF_CORE_READ_INTO would copy one byte of the array */
	if (o->family == AF_INET) {
		bpf_core_read(o->saddr, sizeof(__be32), &c->skc_rcv_saddr);
		bpf_core_read(o->daddr, sizeof(__be32), &c->skc_daddr);
	} else {
		bpf_core_read(o->saddr, sizeof(struct in6_addr), &c->skc_v6_rcv_saddr);
		bpf_core_read(o->daddr, sizeof(struct in6_addr), &c->skc_v6_daddr);
	}
}

/* Reads the object inspect_req names into inspect_out. */
SEC("raw_tp")
int inspect(void *ctx)
{
	struct kleak_inspect_req *req;
	struct kleak_inspect *o;
	struct socket *sock;
	__u32 zero = 0;

	req = bpf_map_lookup_elem(&inspect_req, &zero);
	o = bpf_map_lookup_elem(&inspect_out, &zero);
	if (!req || !o)
		return 0;
	__builtin_memset(o, 0, sizeof(*o));
	o->addr = req->addr;
	o->kind = req->kind;
	/*
	 * A task's se.exec_start is on its runqueue's clock, not
	 * CLOCK_MONOTONIC: "now" is the running task's, on the same clock.
	 */
	o->now_ns = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), se.exec_start);
	switch (req->kind) {
	case KLEAK_OBJ_TASK:
		read_task(o, (struct task_struct *)req->addr);
		break;
	case KLEAK_OBJ_FILE:
		read_file(o, (struct file *)req->addr);
		break;
	case KLEAK_OBJ_SOCK:
		read_sock(o, (struct sock *)req->addr);
		break;
	case KLEAK_OBJ_SOCKET:
		/* socket_alloc starts with its struct socket */
		sock = (struct socket *)req->addr;
		o->sock = (__u64)BPF_CORE_READ(sock, sk);
		if (o->sock)
			read_sock(o, (struct sock *)o->sock);
		/* for a socket, whether a file (an fd, or one in flight) holds it */
		o->has_socket = BPF_CORE_READ(sock, file) != NULL;
		break;
	}
	return 0;
}
