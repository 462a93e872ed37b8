// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A flame graph as one self-contained SVG file: no network, no external
 * script or font. Stacks root first at the bottom, each frame as wide as
 * the bytes (or objects, --value count) outstanding above it; frames
 * coloured by kernel subsystem, or by module; a title naming the host,
 * kernel, filters and run time, and the run's "not seen:" summary. The
 * embedded script zooms on a click and highlights the frames a search
 * matches. A diff draws each frame as wide as the larger of the two runs
 * (so what went away stays in view), red where B holds more, blue where it
 * holds less, the deeper the shade the larger the change.
 *
 * The page runs a search and a zoom itself when its URL ends in
 * "#kleak-test:search=REGEX&zoom=FRAME", and writes what it then draws into
 * the text element "kleak-test": the test renders the file in a headless
 * browser (tests/sh/export.sh).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "export.h"

#define SVG_WIDTH	1200
#define SVG_PAD		10
#define FRAME_H		16
#define FOOT_H		(3 * FRAME_H)
/* frames narrower than this many pixels are not drawn, as flamegraph.pl's --minwidth */
#define MIN_WIDTH_PX	0.1
#define CHAR_PX		7

struct node {
	const char *name;	/* the stacks' frame names, kept by the export set */
	__s64 width;		/* in value units: the sum of its stacks' */
	__s64 count[2], bytes[2];
	size_t depth;
	struct node *child, *next;
};

struct tree {
	struct node root;
	size_t max_depth;
	bool count;		/* --value count: weighed in objects, not bytes */
	__s64 max_delta;	/* a diff's largest |B - A| of a frame, in those units */
	size_t omitted;		/* frames too narrow to draw */
};

/* Subsystems by function name prefix, for the colours; modules get their own. */
static const struct subsys {
	const char *name;
	int hue;
	const char *const *prefixes;
} subsystems[] = {
	{ "networking", 200, (const char *const[]){ "tcp_", "udp", "inet", "ip_", "ip6", "ipv6",
	  "sk_", "sock", "__sock", "skb", "__skb", "__alloc_skb", "alloc_skb", "netlink", "dev_",
	  "napi", "neigh", "unix_", "__sys_socket", "__sys_send", "__sys_recv", "__sys_connect",
	  "__sys_accept", "__sys_bind", "__sys_listen", "net_", "__netif", "netif", "nf_",
	  "rtnl", "__x64_sys_socket", "__x64_sys_send", "__x64_sys_connect", "__x64_sys_accept",
	  NULL } },
	{ "filesystems", 30, (const char *const[]){ "vfs_", "do_sys_open", "path_", "do_filp_open",
	  "alloc_file", "alloc_empty_file", "d_alloc", "__d_alloc", "inode", "alloc_inode",
	  "new_inode", "ext4", "xfs", "btrfs", "seq_", "single_open", "kernfs", "proc_",
	  "do_dentry_open", "filp", "file", "fget", "dentry", "lookup", "__lookup", "mnt",
	  "do_open", "getname", "__x64_sys_open", "__x64_sys_read", "__x64_sys_write", "pipe",
	  "fs", "dput", "iput", "simple_", "shmem", "tmpfs", "nfs", "fuse", "ovl_", "beegfs",
	  "create_pipe", "do_pipe", "alloc_pipe", "__x64_sys_pipe", "epoll", "do_epoll", "ep_",
	  NULL } },
	{ "memory", 100, (const char *const[]){ "kmem", "kmalloc", "__kmalloc", "kmalloc_",
	  "kvmalloc", "__kvmalloc", "kzalloc", "kvzalloc", "kcalloc", "krealloc", "kvrealloc",
	  "kmemdup", "kstrdup", "slab", "___slab", "__slab", "alloc_pages", "__alloc_pages",
	  "mmap", "do_mmap", "vm_", "vma", "__vma", "anon_vma", "mm_", "__mm", "mas_", "mt_",
	  "mtree", "page", "__page", "folio", "__folio", "handle_mm_fault", "__handle_mm_fault",
	  "do_anonymous_page", "do_page_fault", "exc_page_fault", "__x64_sys_mmap", "__do_sys_brk",
	  "do_brk", "percpu", "pcpu", "memcg", "__memcg", NULL } },
	{ "processes", 280, (const char *const[]){ "copy_process", "kernel_clone", "__do_sys_clone",
	  "__x64_sys_clone", "dup_", "alloc_pid", "exec", "do_execve", "bprm", "load_elf",
	  "begin_new_exec", "do_exit", "sched", "wake_up_new", "copy_creds", "copy_files",
	  "copy_fs", "copy_sighand", "copy_signal", "copy_mm", "copy_namespaces", "copy_thread",
	  "create_new_namespaces",
	  "prepare_creds", "cred", "signal", "kthread", "task", "__task", "alloc_task", NULL } },
	/* the verifier's own functions have no bpf_ prefix */
	{ "bpf", 320, (const char *const[]){ "bpf", "__bpf", "__sys_bpf", "__x64_sys_bpf",
	  "do_check", "check_", "push_stack", "copy_verifier_state", "btf_", "__btf", NULL } },
	{ "security", 0, (const char *const[]){ "security_", "selinux", "apparmor", "lsm_",
	  "bpf_lsm", NULL } },
	{ "block", 60, (const char *const[]){ "blk_", "bio_", "__blk", "submit_bio", "bdev",
	  NULL } },
	{ "interrupts", 170, (const char *const[]){ "irq", "__irq", "handle_", "__do_softirq",
	  "do_softirq", "__softirq", "softirq", "sysvec_", "asm_sysvec", "asm_common_interrupt",
	  "common_interrupt", "timer", "hrtimer", "rcu", "__rcu", NULL } },
	{ "syscall entry", 240, (const char *const[]){ "do_syscall_64", "entry_SYSCALL",
	  "__x64_sys_", "__do_sys_", "__se_sys_", "x64_sys_call", "ksys_", NULL } },
};

#define N_SUBSYS (sizeof(subsystems) / sizeof(subsystems[0]))

static void put_xml(FILE *out, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s && n < max; s++, n++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			/* XML 1.0 has no place for most control characters */
			fputc((unsigned char)*s < 0x20 ? '?' : *s, out);
		}
	}
}

/* Which subsystem a frame is in: index into subsystems, or -1. */
static int subsys_of(const char *name)
{
	const char *const *p;
	size_t i;

	for (i = 0; i < N_SUBSYS; i++)
		for (p = subsystems[i].prefixes; *p; p++)
			if (!strncmp(name, *p, strlen(*p)))
				return i;
	return -1;
}

/* The fill of a frame in a report: its subsystem's hue, or its module's. */
static void fill_of(const char *name, char *buf, size_t len)
{
	size_t mod_len, i;
	const char *mod = export__module(name, &mod_len);
	unsigned int h = 0;
	int s;

	if (!strncmp(name, "[cache ", 7) || !strncmp(name, "[held by ", 9)) {
		snprintf(buf, len, "hsl(0,0%%,72%%)");
		return;
	}
	if (mod) {
		/* a module: its own hue, from its name, always in the module's pale band */
		for (i = 0; i < mod_len; i++)
			h = h * 31 + (unsigned char)mod[i];
		snprintf(buf, len, "hsl(%u,45%%,80%%)", h % 360);
		return;
	}
	s = subsys_of(name);
	if (s < 0) {
		snprintf(buf, len, "hsl(45,15%%,62%%)");
		return;
	}
	/* a little variation by name, so neighbours of one subsystem stay apart */
	for (i = 0; name[i]; i++)
		h = h * 31 + (unsigned char)name[i];
	snprintf(buf, len, "hsl(%d,%u%%,%u%%)", subsystems[s].hue, 55 + h % 15, 55 + (h >> 4) % 12);
}

/* B - A of a frame, in what the graph weighs (--value). */
static __s64 delta_of(const struct tree *t, const struct node *n)
{
	return t->count ? n->count[1] - n->count[0] : n->bytes[1] - n->bytes[0];
}

/* The fill of a frame in a diff: red growth, blue shrinkage, shade by magnitude. */
static void diff_fill_of(const struct tree *t, const struct node *n, char *buf, size_t len)
{
	__s64 d = delta_of(t, n);
	double share = t->max_delta ? (double)(d < 0 ? -d : d) / t->max_delta : 0;
	int light = 96 - (int)(share * 46);

	if (!d)
		snprintf(buf, len, "hsl(0,0%%,92%%)");
	else
		snprintf(buf, len, "hsl(%d,80%%,%d%%)", d > 0 ? 0 : 220, light);
}

static __s64 clamp0(__s64 v)
{
	return v > 0 ? v : 0;
}

static __s64 width_of(const struct export_set *x, const struct export_stack *st)
{
	const __s64 *v = x->value == VALUE_COUNT ? st->count : st->bytes;

	if (!x->diff)
		return clamp0(v[0]);
	return clamp0(v[0]) > clamp0(v[1]) ? clamp0(v[0]) : clamp0(v[1]);
}

static struct node *child_of(struct node *parent, const char *name)
{
	struct node *c, **tail = &parent->child;

	for (c = parent->child; c; tail = &c->next, c = c->next)
		if (!strcmp(c->name, name))
			return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->name = name;
	c->depth = parent->depth + 1;
	*tail = c;
	return c;
}

static int tree_build(struct tree *t, const struct export_set *x)
{
	size_t i, j;
	int run;

	t->root.name = "all";
	t->count = x->value == VALUE_COUNT;
	for (i = 0; i < x->n; i++) {
		const struct export_stack *st = &x->stacks[i];
		__s64 w = width_of(x, st);
		struct node *n = &t->root;

		for (j = 0; j <= st->n_frames; j++) {
			/* j = 0 is the root, then frame j - 1 */
			if (j && !(n = child_of(n, st->frames[j - 1].name)))
				return -ENOMEM;
			n->width += w;
			for (run = 0; run < 2; run++) {
				n->count[run] += st->count[run];
				n->bytes[run] += st->bytes[run];
			}
		}
		if (st->n_frames > t->max_depth)
			t->max_depth = st->n_frames;
	}
	return 0;
}

static void node_free(struct node *n)
{
	struct node *c, *next;

	for (c = n->child; c; c = next) {
		next = c->next;
		node_free(c);
		free(c);
	}
}

static void max_delta(struct tree *t, const struct node *n)
{
	const struct node *c;
	__s64 d = delta_of(t, n);

	if (n != &t->root && (d < 0 ? -d : d) > t->max_delta)
		t->max_delta = d < 0 ? -d : d;
	for (c = n->child; c; c = c->next)
		max_delta(t, c);
}

struct draw {
	const struct export_set *x;
	struct tree *t;
	FILE *out;
	double px_per_unit;
	int height;
};

static void put_label(FILE *out, const char *name, double w)
{
	size_t fit = w > 6 ? (size_t)((w - 6) / CHAR_PX) : 0, len = strlen(name);

	if (fit < 3)
		return;
	if (len <= fit) {
		put_xml(out, name, len);
	} else {
		put_xml(out, name, fit - 2);
		fputs("..", out);
	}
}

/* The tooltip: bytes, objects, share of the whole; a diff's both runs and the change. */
static void put_title(const struct draw *d, const struct node *n)
{
	const struct node *root = &d->t->root;
	FILE *out = d->out;

	fputs("<title>", out);
	put_xml(out, n->name, strlen(n->name));
	if (!d->x->diff) {
		fprintf(out, " (%" PRId64 " bytes, %" PRId64 " objects, %.2f%%)",
			(int64_t)n->bytes[0], (int64_t)n->count[0],
			root->width ? 100.0 * n->width / root->width : 0);
	} else {
		fprintf(out, " (A %" PRId64 " bytes, %" PRId64 " objects; B %" PRId64 " bytes, %"
			PRId64 " objects; B-A %+" PRId64 " bytes, %+" PRId64 " objects; %.2f%% of "
			"the width)", (int64_t)n->bytes[0], (int64_t)n->count[0],
			(int64_t)n->bytes[1], (int64_t)n->count[1],
			(int64_t)(n->bytes[1] - n->bytes[0]), (int64_t)(n->count[1] - n->count[0]),
			root->width ? 100.0 * n->width / root->width : 0);
	}
	fputs("</title>", out);
}

static void draw_node(struct draw *d, const struct node *n, __s64 x_units)
{
	const struct node *c;
	double x = SVG_PAD + x_units * d->px_per_unit, w = n->width * d->px_per_unit;
	int y = d->height - FOOT_H - (int)(n->depth + 1) * FRAME_H;
	char fill[48];

	if (w < MIN_WIDTH_PX) {
		d->t->omitted++;
		return;
	}
	if (d->x->diff)
		diff_fill_of(d->t, n, fill, sizeof(fill));
	else if (n == &d->t->root)
		snprintf(fill, sizeof(fill), "hsl(0,0%%,85%%)");
	else
		fill_of(n->name, fill, sizeof(fill));
	fprintf(d->out, "<g class=\"f\" data-x=\"%" PRId64 "\" data-w=\"%" PRId64 "\" data-d=\"%zu\" "
		"data-c=\"%s\" data-n=\"", (int64_t)x_units, (int64_t)n->width, n->depth, fill);
	put_xml(d->out, n->name, strlen(n->name));
	fputs("\">", d->out);
	put_title(d, n);
	fprintf(d->out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>"
		"<text x=\"%.2f\" y=\"%d\">", x, y, w, FRAME_H - 1, fill, x + 3, y + FRAME_H - 4);
	put_label(d->out, n->name, w);
	fputs("</text></g>\n", d->out);
	for (c = n->child; c; c = c->next) {
		draw_node(d, c, x_units);
		x_units += c->width;
	}
}

static void fmt_run_time(const struct model *m, char *buf, size_t len)
{
	time_t t = m->meta.start_s;
	struct tm tm;
	char start[32] = "-";

	if (m->meta.start_s && gmtime_r(&t, &tm))
		strftime(start, sizeof(start), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(buf, len, "%s, %llu s", start,
		 (unsigned long long)(m->meta.end_s > m->meta.start_s ?
				      m->meta.end_s - m->meta.start_s : 0));
}

/* Wraps text at "; " into lines of at most max characters; prints them unless out is NULL. */
static int put_wrapped(FILE *out, const char *text, size_t max, int x, int y)
{
	const char *p = text, *cut, *sep;
	int lines = 0;

	while (*p) {
		cut = p + strlen(p);
		if ((size_t)(cut - p) > max) {
			/* the last "; " that fits, or a hard cut where none does */
			for (cut = p + max, sep = p; (sep = strstr(sep, "; ")) && sep + 1 <= p + max;
			     sep++)
				cut = sep + 1;
		}
		if (out) {
			fprintf(out, "<text class=\"meta small\" x=\"%d\" y=\"%d\">", x,
				y + lines * (FRAME_H - 4));
			put_xml(out, p, cut - p);
			fputs("</text>\n", out);
		}
		lines++;
		p = cut;
		while (*p == ' ')
			p++;
	}
	return lines;
}

#define WRAP_CHARS ((SVG_WIDTH - 2 * SVG_PAD) / 6)

/*
 * One title line per run: host, kernel, filters, run time; then its "not
 * seen:", wrapped. Returns the pixels it took, or -ENOMEM. out NULL: only
 * measures.
 */
static int put_run(FILE *out, const struct model *m, const char *label, const char *name, int y)
{
	char when[64], *not_seen = export__not_seen(m);
	int lines;

	if (!not_seen)
		return -ENOMEM;
	if (out) {
		fmt_run_time(m, when, sizeof(when));
		fprintf(out, "<text class=\"meta\" x=\"%d\" y=\"%d\">", SVG_PAD, y);
		put_xml(out, label, strlen(label));
		if (name) {
			put_xml(out, name, strlen(name));
			fputs(": ", out);
		}
		fputs("host ", out);
		put_xml(out, m->meta.hostname ?: "?", 256);
		fputs(", kernel ", out);
		put_xml(out, m->meta.kernel ?: "?", 256);
		fputs(", filters: ", out);
		put_xml(out, m->meta.filters && *m->meta.filters ? m->meta.filters : "none", 512);
		fputs(", run ", out);
		put_xml(out, when, sizeof(when));
		fputs("</text>\n", out);
	}
	lines = put_wrapped(out, not_seen, WRAP_CHARS, SVG_PAD, y + FRAME_H - 3);
	free(not_seen);
	return FRAME_H + lines * (FRAME_H - 4) + 4;
}

/* The legend: the subsystems' hues, or the diff's two colours. */
static void put_legend(const struct draw *d)
{
	int y = d->height - FOOT_H + FRAME_H + 2, x = SVG_PAD;
	size_t i;

	if (d->x->diff) {
		fprintf(d->out, "<text class=\"small\" x=\"%d\" y=\"%d\">width: the larger of A and "
			"B; <tspan fill=\"hsl(0,80%%,50%%)\">red: B holds more</tspan>, "
			"<tspan fill=\"hsl(220,80%%,50%%)\">blue: B holds less</tspan>, the deeper "
			"the larger the change</text>\n", x, y);
		return;
	}
	for (i = 0; i < N_SUBSYS; i++) {
		fprintf(d->out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
			"fill=\"hsl(%d,60%%,60%%)\"/><text class=\"small\" x=\"%d\" y=\"%d\">%s"
			"</text>\n", x, y - 9, subsystems[i].hue, x + 13, y, subsystems[i].name);
		x += 13 + (int)strlen(subsystems[i].name) * 6 + 14;
	}
	fprintf(d->out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"hsl(90,45%%,80%%)\"/>"
		"<text class=\"small\" x=\"%d\" y=\"%d\">modules (a pale hue each)</text>\n"
		"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"hsl(0,0%%,72%%)\"/>"
		"<text class=\"small\" x=\"%d\" y=\"%d\">slab caches</text>\n", x, y - 9, x + 13, y,
		x + 190, y - 9, x + 203, y);
}

/* The page's script: zoom, search, the details line, and the test hook. */
static const char script[] =
"var W = " "%d" ", PAD = " "%d" ", CH = " "%d" ", frames = [], unzoomed = null;\n"
"function fit(name, w) {\n"
"  var n = Math.floor((w - 6) / CH);\n"
"  if (n < 3) return '';\n"
"  return name.length <= n ? name : name.substring(0, n - 2) + '..';\n"
"}\n"
"function place(g, x0, w0) {\n"
"  var r = g.querySelector('rect'), t = g.querySelector('text');\n"
"  var px = (g.dataset.x - x0) / w0 * (W - 2 * PAD) + PAD, pw = g.dataset.w / w0 * (W - 2 * PAD);\n"
"  r.setAttribute('x', px.toFixed(2)); r.setAttribute('width', pw.toFixed(2));\n"
"  t.setAttribute('x', (px + 3).toFixed(2)); t.textContent = fit(g.dataset.n, pw);\n"
"}\n"
"function zoom(g) {\n"
"  var x0 = +g.dataset.x, w0 = +g.dataset.w, d = +g.dataset.d;\n"
"  if (!w0) return;\n"
"  frames.forEach(function (f) {\n"
"    var x = +f.dataset.x, w = +f.dataset.w, fd = +f.dataset.d;\n"
"    if (fd < d && x <= x0 && x + w >= x0 + w0) {\n"
"      f.style.display = ''; f.classList.add('parent'); place(f, x, w);\n"
"    } else if (fd >= d && x >= x0 && x + w <= x0 + w0) {\n"
"      f.style.display = ''; f.classList.remove('parent'); place(f, x0, w0);\n"
"    } else {\n"
"      f.style.display = 'none';\n"
"    }\n"
"  });\n"
"  document.getElementById('unzoom').style.display = '';\n"
"}\n"
"function unzoom() {\n"
"  frames.forEach(function (f) { f.style.display = ''; f.classList.remove('parent');\n"
"    place(f, 0, unzoomed); });\n"
"  document.getElementById('unzoom').style.display = 'none';\n"
"}\n"
"function search(re) {\n"
"  var rx, spans = [], total = 0, end = -1, matched = 0;\n"
"  try { rx = new RegExp(re); } catch (e) { return -1; }\n"
"  frames.forEach(function (f) {\n"
"    var r = f.querySelector('rect');\n"
"    if (re !== '' && rx.test(f.dataset.n)) {\n"
"      r.setAttribute('fill', 'rgb(230,0,230)'); f.classList.add('match'); matched++;\n"
"      spans.push([+f.dataset.x, +f.dataset.x + +f.dataset.w]);\n"
"    } else {\n"
"      r.setAttribute('fill', f.dataset.c); f.classList.remove('match');\n"
"    }\n"
"  });\n"
"  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
"  spans.forEach(function (s) {\n"
"    if (s[1] <= end) return;\n"
"    total += s[1] - Math.max(s[0], end); end = s[1];\n"
"  });\n"
"  document.getElementById('matched').textContent = re === '' ? '' :\n"
"    'Matched: ' + (100 * total / unzoomed).toFixed(1) + '%%';\n"
"  return matched;\n"
"}\n"
"function ask() {\n"
"  var re = prompt('Search for (a regular expression):', '');\n"
"  if (re !== null) search(re);\n"
"}\n"
"function init() {\n"
"  frames = [].slice.call(document.querySelectorAll('g.f'));\n"
"  unzoomed = frames.length ? +frames[0].dataset.w : 1;\n"
"  frames.forEach(function (f) {\n"
"    f.addEventListener('click', function () { zoom(f); });\n"
"    f.addEventListener('mouseover', function () {\n"
"      document.getElementById('details').textContent = f.querySelector('title').textContent;\n"
"    });\n"
"  });\n"
"  document.addEventListener('keydown', function (e) {\n"
"    if ((e.ctrlKey && e.key === 'f') || e.key === '/') { e.preventDefault(); ask(); }\n"
"    if (e.key === 'Escape') { unzoom(); search(''); }\n"
"  });\n"
"  var h = decodeURIComponent(location.hash);\n"
"  if (h.indexOf('#kleak-test:') === 0) selftest(h.substring(12));\n"
"}\n"
"function selftest(q) {\n"
"  var p = {}, out = [];\n"
"  q.split('&').forEach(function (kv) { var i = kv.indexOf('=');\n"
"    p[kv.substring(0, i)] = kv.substring(i + 1); });\n"
"  out.push('matches=' + search(p.search || ''));\n"
"  out.push('matched=' + document.getElementById('matched').textContent);\n"
"  var z = frames.filter(function (f) { return f.dataset.n === p.zoom; })[0];\n"
"  if (z) zoom(z);\n"
"  out.push('zoomed=' + (z ? z.dataset.n : '-'));\n"
"  frames.forEach(function (f) {\n"
"    var w = +f.querySelector('rect').getAttribute('width');\n"
"    if (f.style.display !== 'none' && w > 0)\n"
"      out.push((f.classList.contains('match') ? 'M ' : 'D ') + f.dataset.n + ' ' + w.toFixed(0));\n"
"  });\n"
"  document.getElementById('kleak-test').textContent = out.join('\\n');\n"
"}\n";

int svg__write(const struct export_set *x, FILE *out)
{
	struct tree t = {};
	struct draw d = { .x = x, .t = &t, .out = out };
	const char *what = x->value == VALUE_COUNT ? "objects" : "bytes";
	int err, y, runs_h = 0, h, i;

	err = tree_build(&t, x);
	if (err)
		goto out;
	if (x->diff)
		max_delta(&t, &t.root);
	for (i = 0; i < (x->diff ? 2 : 1); i++) {
		h = put_run(NULL, x->run[i], "", x->name[i], 0);
		if (h < 0) {
			err = h;
			goto out;
		}
		runs_h += h;
	}
	d.height = 2 * FRAME_H + runs_h + (int)(t.max_depth + 1) * FRAME_H + FOOT_H;
	d.px_per_unit = t.root.width ? (double)(SVG_WIDTH - 2 * SVG_PAD) / t.root.width : 0;
	fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\" onload=\"init()\">\n"
		"<style>text { font-family: monospace; font-size: 12px; fill: #000; } "
		"text.small { font-size: 10px; } text.meta { font-size: 11px; } "
		"text.title { font-size: 16px; } g.f { cursor: pointer; } "
		"g.f text { pointer-events: none; } g.parent rect { opacity: 0.5; } "
		"g.f:hover rect { stroke: #000; stroke-width: 0.5; } "
		".button { cursor: pointer; fill: #036; text-decoration: underline; }</style>\n"
		"<script><![CDATA[\n", SVG_WIDTH, d.height, SVG_WIDTH, d.height);
	fprintf(out, script, SVG_WIDTH, SVG_PAD, CHAR_PX);
	fprintf(out, "]]></script>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		"fill=\"#fdfdf6\"/>\n<text class=\"title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
		"kleak: %s %s by allocation stack%s</text>\n", SVG_WIDTH, d.height, SVG_WIDTH / 2,
		FRAME_H + 2, x->diff ? "difference of outstanding" : "outstanding", what,
		x->diff ? ", B minus A" : "");
	y = 2 * FRAME_H + 4;
	for (i = 0; i < (x->diff ? 2 : 1); i++) {
		h = put_run(out, x->run[i], x->diff ? (i ? "B " : "A ") : "", x->name[i], y);
		if (h < 0) {
			err = h;
			goto out;
		}
		y += h;
	}
	fprintf(out, "<text class=\"button\" x=\"%d\" y=\"%d\" onclick=\"ask()\">Search</text>\n"
		"<text id=\"unzoom\" class=\"button\" x=\"%d\" y=\"%d\" onclick=\"unzoom()\" "
		"style=\"display:none\">Reset zoom</text>\n"
		"<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"></text>\n",
		SVG_WIDTH - SVG_PAD - 60, FRAME_H + 2, SVG_PAD, FRAME_H + 2,
		SVG_WIDTH - SVG_PAD, d.height - FOOT_H + 2 * FRAME_H + 4);
	if (!x->n)
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no allocation "
			"outstanding of the age asked for (%llu ms)</text>\n", SVG_WIDTH / 2,
			d.height / 2, (unsigned long long)x->older_ms);
	else
		draw_node(&d, &t.root, 0);
	put_legend(&d);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n"
		"<text id=\"kleak-test\" x=\"%d\" y=\"%d\" class=\"small\" style=\"display:none\">"
		"</text>\n", SVG_PAD, d.height - FOOT_H + 2 * FRAME_H + 4, SVG_PAD, d.height - 2);
	if (t.omitted)
		fprintf(out, "<!-- %zu frames narrower than %.1f px not drawn -->\n", t.omitted,
			MIN_WIDTH_PX);
	fputs("</svg>\n", out);
out:
	node_free(&t.root);
	return err;
}
