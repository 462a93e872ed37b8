// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Saved-run files: struct model to and from the line-oriented format of
 * docs/record-format.md. Reading checks the whole file (header, end marker,
 * CRC32) before parsing a single record, so truncation and corruption are
 * reported as such and never as a confusing parse error. Version 3 is
 * written (it adds user frames, the allocators beside slab, the books and
 * object classes); versions 1 and 2 are read as they were. Within a version
 * a reader skips the line kinds and meta keys a newer writer added
 * (extensions only add, see the format's Compatibility section) and refuses
 * a file that requires a feature it does not know.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "log.h"
#include "outfile.h"
#include "record.h"

#define MAX_TOKENS	(2 + RECORD_VALUES_PER_LINE)
/* "end " + 20 digits + " " + 8 hex digits + "\n", with room to spare */
#define END_LINE_MAX	64

static const char *const kind_names[] = {
	[KLEAK_SITE_CACHE] = "cache",
	[KLEAK_SITE_KMALLOC] = "kmalloc",
	[KLEAK_SITE_CACHE_UNNAMED] = "cache_unnamed",
	/* since 3 */
	[KLEAK_SITE_PAGES] = "page",
	[KLEAK_SITE_PAGES_USER] = "page_user",
	[KLEAK_SITE_VMALLOC] = "vmalloc",
	[KLEAK_SITE_PERCPU] = "percpu",
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* ---- writing ---- */

struct rec_writer {
	FILE *f;
	uLong crc;
	char *buf;
	size_t len;
	size_t cap;
	int err;
	const char *why;	/* cause of a format error, for the message */
};

static void put_raw(struct rec_writer *w, const char *s, size_t n)
{
	char *p;
	size_t cap;

	if (w->err)
		return;
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->buf, cap);
		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		w->buf = p;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void __attribute__((format(printf, 2, 3))) putf(struct rec_writer *w, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* only numbers and keywords go through here: they always fit */
	if (n > 0 && (size_t)n < sizeof(tmp))
		put_raw(w, tmp, n);
}

/* A string field, escaped so it holds no space or control byte. */
static void put_str(struct rec_writer *w, const char *s)
{
	const unsigned char *p;
	char esc[5];

	put_raw(w, " ", 1);
	if (!s) {
		put_raw(w, "-", 1);
		return;
	}
	if (!*s) {
		put_raw(w, "\\e", 2);
		return;
	}
	if (!strcmp(s, "-")) {
		put_raw(w, "\\x2d", 4);
		return;
	}
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '\\':
			put_raw(w, "\\\\", 2);
			break;
		case ' ':
			put_raw(w, "\\s", 2);
			break;
		case '\t':
			put_raw(w, "\\t", 2);
			break;
		case '\n':
			put_raw(w, "\\n", 2);
			break;
		case '\r':
			put_raw(w, "\\r", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				put_raw(w, esc, 4);
			} else {
				put_raw(w, (const char *)p, 1);
			}
		}
	}
}

static void end_line(struct rec_writer *w)
{
	put_raw(w, "\n", 1);
	if (w->err)
		return;
	if (w->len > RECORD_MAX_LINE) {
		w->err = -E2BIG;
		w->why = "a record is longer than the format's line limit";
		return;
	}
	w->crc = crc32(w->crc, (const Bytef *)w->buf, w->len);
	errno = 0;
	if (fwrite(w->buf, 1, w->len, w->f) != w->len)
		w->err = errno ? -errno : -EIO;
	w->len = 0;
}

static void put_values(struct rec_writer *w, const char *kind, const void *vals, size_t n,
		       bool is_signed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % RECORD_VALUES_PER_LINE == 0) {
			if (i)
				end_line(w);
			put_raw(w, kind, strlen(kind));
		}
		if (is_signed)
			putf(w, " %" PRId64, (int64_t)((const __s64 *)vals)[i]);
		else
			putf(w, " %" PRIu32, (uint32_t)((const __u32 *)vals)[i]);
	}
	if (n)
		end_line(w);
}

static void put_meta_str(struct rec_writer *w, const char *key, const char *val)
{
	putf(w, "meta %s", key);
	put_str(w, val);
	end_line(w);
}

/* --ustack, version 3: the site's user stack state and its user frames. */
static void put_ustack(struct rec_writer *w, const struct model_site *s)
{
	const struct model_uframe *f;
	size_t i;

	if (s->ustate == KLEAK_USTACK_OFF)
		return;
	put_raw(w, "ustack", 6);
	put_str(w, model__ustate_name(s->ustate));
	end_line(w);
	for (i = 0; i < s->n_uframes; i++) {
		f = &s->uframes[i];
		put_raw(w, "uframe", 6);
		put_str(w, f->build_id[0] ? f->build_id : NULL);
		putf(w, " 0x%" PRIx64, (uint64_t)f->offset);
		put_str(w, f->sym);
		put_str(w, f->module);
		put_str(w, f->srcline);
		putf(w, " %d", f->replaced ? 1 : 0);
		end_line(w);
	}
}

/* Version 3: who holds each age's object, and the examples. */
static void put_held(struct rec_writer *w, const struct model_site *s)
{
	const struct model_object *e;
	size_t i;

	for (i = 0; s->held && i < s->n_ages; i++) {
		if (i % RECORD_VALUES_PER_LINE == 0) {
			if (i)
				end_line(w);
			put_raw(w, "held", 4);
		}
		putf(w, " %u", s->held[i]);
	}
	if (s->held && s->n_ages)
		end_line(w);
	for (i = 0; i < s->n_examples; i++) {
		e = &s->examples[i];
		putf(w, "object");
		put_str(w, model__held_name(e->held));
		putf(w, " %" PRIu32 " %" PRIu32 " %" PRId32 " %" PRIu64 " %" PRId64, e->pid, e->tgid,
		     e->fd, (uint64_t)e->count, (int64_t)e->last_ran_ms);
		put_str(w, e->comm);
		put_str(w, e->desc);
		end_line(w);
		/* "mapping START END" (version 3, with held-mapped): its range, after its object */
		if (e->held == HELD_MAPPED && e->map_end) {
			putf(w, "mapping 0x%" PRIx64 " 0x%" PRIx64, (uint64_t)e->map_start,
			     (uint64_t)e->map_end);
			end_line(w);
		}
	}
}

static void put_site(struct rec_writer *w, const struct model_site *s, bool raw_addresses)
{
	size_t i;

	putf(w, "site %s", kind_names[s->kind]);
	put_str(w, s->cache);
	putf(w, " %" PRIu64 " %d", (uint64_t)s->obj_size, s->stack_err);
	putf(w, " %" PRId64 " %" PRId64, (int64_t)s->count, (int64_t)s->bytes);
	putf(w, " %" PRIu64 " %" PRIu64 " %" PRIu64, (uint64_t)s->allocs, (uint64_t)s->retired,
	     (uint64_t)s->retired_bytes);
	putf(w, " %zu %zu %zu", s->n_frames, s->n_ages, s->n_trend);
	end_line(w);

	put_raw(w, "ctx", 3);
	for (i = 0; i < KLEAK_CTX_MAX; i++)
		putf(w, " %" PRIu64, (uint64_t)s->ctx[i]);
	end_line(w);

	for (i = 0; i < s->n_comms; i++) {
		put_raw(w, "comm", 4);
		put_str(w, s->comms[i].comm);
		putf(w, " %" PRIu64, (uint64_t)s->comms[i].count);
		end_line(w);
	}
	for (i = 0; i < s->n_frames; i++) {
		/* since 3: 0 unless asked for, as a raw address tells KASLR's offset */
		putf(w, "frame 0x%" PRIx64,
		     (uint64_t)(raw_addresses ? s->frames[i].addr : 0));
		put_str(w, s->frames[i].sym);
		end_line(w);
	}
	put_ustack(w, s);
	put_values(w, "ages", s->ages_ms, s->n_ages, false);
	put_values(w, "trend", s->trend, s->n_trend, true);
	put_held(w, s);
}

/*
 * The report options, version 2; left out, as a group, for a model that does
 * not know them (one read from a version 1 file).
 */
static void put_report_meta(struct rec_writer *w, const struct model_meta *mt)
{
	if (!mt->report_saved)
		return;
	putf(w, "meta older_ms %" PRIu64, (uint64_t)mt->older_ms);
	end_line(w);
	putf(w, "meta top %" PRIu64, (uint64_t)mt->top);
	end_line(w);
	putf(w, "meta caches %d", mt->caches ? 1 : 0);
	end_line(w);
	put_meta_str(w, "exclude", mt->exclude);
	put_meta_str(w, "cache", mt->cache);
}

/* A merged cache and its aliases, at most RECORD_VALUES_PER_LINE a line. */
static void put_merged(struct rec_writer *w, const struct model_merged *g)
{
	size_t i;

	for (i = 0; i < g->n_aliases; i++) {
		if (i % RECORD_VALUES_PER_LINE == 0) {
			if (i)
				end_line(w);
			put_raw(w, "merged", 6);
			put_str(w, g->name);
		}
		put_str(w, g->aliases[i]);
	}
	if (g->n_aliases)
		end_line(w);
}

/* What the reader would refuse is refused here, before anything is written. */
static const char *check_model(const struct model *m)
{
	size_t i, ages = 0, aliases = 0;

	if (m->n_sites > RECORD_MAX_SITES)
		return "too many sites";
	if (m->n_slabs > RECORD_MAX_SLABS)
		return "too many slab caches";
	for (i = 0; i < m->n_slabs; i++)
		if (strnlen(m->slabs[i].name, sizeof(m->slabs[i].name)) == sizeof(m->slabs[i].name))
			return "unterminated slab cache name";
	if (m->n_merged > RECORD_MAX_MERGED)
		return "too many merged caches";
	for (i = 0; i < m->n_merged; i++) {
		const struct model_merged *g = &m->merged[i];
		size_t j;

		if (strnlen(g->name, sizeof(g->name)) == sizeof(g->name))
			return "unterminated merged cache name";
		aliases += g->n_aliases;
		for (j = 0; j < g->n_aliases; j++)
			if (!g->aliases[j])
				return "merged cache alias missing";
	}
	if (aliases > RECORD_MAX_ALIASES)
		return "more merged cache aliases than the format allows";
	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];
		size_t j;

		if (s->kind >= N_KINDS)
			return "unknown site kind";
		if (strnlen(s->cache, sizeof(s->cache)) == sizeof(s->cache))
			return "unterminated cache name";
		if (s->n_frames > KLEAK_MAX_STACK_DEPTH)
			return "stack deeper than the format allows";
		if (s->n_uframes > KLEAK_MAX_USTACK_DEPTH)
			return "user stack deeper than the format allows";
		if (s->n_uframes && !model__ustate_name(s->ustate))
			return "unknown user stack state";
		if (s->n_comms > MODEL_TOP_COMMS)
			return "too many comms in a site";
		for (j = 0; j < s->n_comms; j++)
			if (strnlen(s->comms[j].comm, KLEAK_COMM_LEN) == KLEAK_COMM_LEN)
				return "unterminated comm";
		if (s->n_trend > RECORD_MAX_TREND)
			return "trend longer than the format allows";
		ages += s->n_ages;
		if (ages > RECORD_MAX_AGES)
			return "more ages than the format allows";
		for (j = 1; j < s->n_ages; j++)
			if (s->ages_ms[j] > s->ages_ms[j - 1])
				return "ages not sorted oldest first";
		if (s->n_examples > HELD_MAX * MODEL_HELD_EXAMPLES)
			return "too many example objects in a site";
		for (j = 0; j < s->n_examples; j++)
			if (s->examples[j].held >= HELD_MAX ||
			    strnlen(s->examples[j].comm, KLEAK_COMM_LEN) == KLEAK_COMM_LEN)
				return "bad example object";
	}
	return NULL;
}

/*
 * Classes version 3 gained later, each a feature a reader must know: a
 * reader that knows only the first ones would refuse their held values as
 * bad, so it refuses the file on its requires line instead, in one line.
 */
static const struct {
	int held;
	const char *feature;
} held_features[] = {
	{ HELD_MAPPED, "held-mapped" },
	{ HELD_MERGED, "held-merged" },
};

static bool has_held(const struct model *m, int held)
{
	size_t i, j;

	for (i = 0; i < m->n_sites; i++)
		for (j = 0; m->sites[i].held && j < m->sites[i].n_ages; j++)
			if (m->sites[i].held[j] == held)
				return true;
	return false;
}

static void put_model(struct rec_writer *w, const struct model *m)
{
	const struct model_meta *mt = &m->meta;
	size_t i;

	putf(w, "%s %d", RECORD_MAGIC, RECORD_VERSION);
	end_line(w);
	for (i = 0; i < sizeof(held_features) / sizeof(held_features[0]); i++) {
		if (!has_held(m, held_features[i].held))
			continue;
		put_raw(w, "requires", 8);
		put_str(w, held_features[i].feature);
		end_line(w);
	}
	put_meta_str(w, "version", mt->version);
	put_meta_str(w, "kernel", mt->kernel);
	put_meta_str(w, "hostname", mt->hostname);
	put_meta_str(w, "boot_id", mt->boot_id);
	put_meta_str(w, "cmdline", mt->cmdline);
	put_meta_str(w, "filters", mt->filters);
	put_meta_str(w, "attach", mt->attach);
	putf(w, "meta start_s %" PRIu64, (uint64_t)mt->start_s);
	end_line(w);
	putf(w, "meta end_s %" PRIu64, (uint64_t)mt->end_s);
	end_line(w);
	putf(w, "meta sample_rate %" PRIu32, (uint32_t)mt->sample_rate);
	end_line(w);
	putf(w, "meta interval_s %" PRIu64, (uint64_t)mt->interval_s);
	end_line(w);
	put_report_meta(w, mt);
	for (i = 0; i < STAT_MAX; i++) {
		putf(w, "stat %s %" PRIu64, model__stat_name(i), (uint64_t)m->stats[i]);
		end_line(w);
	}
	putf(w, "recursion_misses %" PRIu64, (uint64_t)m->recursion_misses);
	end_line(w);
	putf(w, "unresolved_frames %" PRIu64, (uint64_t)m->unresolved_frames);
	end_line(w);
	/* since 3: the books' outstanding term (a saved run is a final, exact report) */
	if (m->books_kept) {
		putf(w, "outstanding %" PRIu64, (uint64_t)m->outstanding);
		end_line(w);
	}
	for (i = 0; i < m->n_slabs; i++) {
		put_raw(w, "slab", 4);
		put_str(w, m->slabs[i].name);
		putf(w, " %" PRId64 " %" PRId64, (int64_t)m->slabs[i].active_start,
		     (int64_t)m->slabs[i].active_end);
		end_line(w);
	}
	for (i = 0; i < m->n_merged; i++)
		put_merged(w, &m->merged[i]);
	for (i = 0; i < KC_MAX; i++) {
		if (!m->kcounters[i].seen)
			continue;
		putf(w, "meminfo %s %" PRId64 " %" PRId64, model__kcounter_name(i),
		     (int64_t)m->kcounters[i].start_kb, (int64_t)m->kcounters[i].end_kb);
		end_line(w);
	}
	if (m->held_kinds || m->held_missing) {
		put_raw(w, "classified", 10);
		put_str(w, m->held_kinds);
		put_str(w, m->held_missing);
		end_line(w);
	}
	for (i = 0; i < m->n_sites && !w->err; i++)
		put_site(w, &m->sites[i], m->meta.raw_addresses);
	/* the end line is outside its own checksum */
	if (!w->err) {
		putf(w, "end %zu %08lx\n", m->n_sites, (unsigned long)w->crc);
		errno = 0;
		if (!w->err && fwrite(w->buf, 1, w->len, w->f) != w->len)
			w->err = errno ? -errno : -EIO;
	}
}

int record__write(const struct model *m, const char *path)
{
	struct rec_writer w = { .crc = crc32(0L, Z_NULL, 0) };
	struct outfile of;
	const char *why;
	int err;

	why = check_model(m);
	if (why) {
		pr_err("failed to write run %s: %s", path, why);
		return -EINVAL;
	}
	err = outfile__open(&of, path);
	if (err)
		goto out;
	w.f = of.f;
	put_model(&w, m);
	err = w.err;
	if (err)
		outfile__abort(&of);
	else
		err = outfile__commit(&of);
out:
	free(w.buf);
	if (err)
		pr_err("failed to write run %s: %s", path, w.why ? w.why : strerror(-err));
	return err;
}

/* ---- reading ---- */

struct rec_reader {
	FILE *f;
	const char *path;
	char *line;
	size_t len;
	size_t lineno;
	char *tok[MAX_TOKENS];
	int ntok;
	bool too_many;		/* the line has more than MAX_TOKENS fields */
	__u64 version;
	size_t total_ages;
	size_t total_aliases;
	/* which meta keys and stats were seen, to refuse duplicates */
	unsigned int meta_seen;
	bool stat_seen[STAT_MAX];
	bool misc_seen[3];
	/* what a newer writer of this version added, skipped (see the format doc) */
	size_t unknown_stats;
	size_t unknown_meta;
	size_t unknown_records;
	char unknown_kinds[64];	/* the first of their kinds, for the warning */
	/* the site whose ctx/comm/frame/ages/trend lines are being read */
	struct model_site *site;
	size_t site_line;
	bool site_ctx;
	size_t want_frames, want_ages, want_trend;
	size_t n_held;		/* held values read for the open site */
	bool classified_seen;
	char msg[256];
};

static int __attribute__((format(printf, 3, 4))) fail(struct rec_reader *r, int err,
						       const char *fmt, ...)
{
	va_list ap;

	if (!r->msg[0]) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

static int bad_line(struct rec_reader *r, const char *what)
{
	return fail(r, -EINVAL, "line %zu: %s", r->lineno, what);
}

/*
 * Reads one line, newline included, into r->line. Returns 1 for a line,
 * 0 at end of file, or a negative error.
 */
static int read_line(struct rec_reader *r)
{
	int c;

	r->len = 0;
	r->lineno++;
	while ((c = getc(r->f)) != EOF) {
		if (r->len == RECORD_MAX_LINE)
			return bad_line(r, "line too long");
		r->line[r->len++] = c;
		if (c == '\n')
			break;
	}
	if (ferror(r->f))
		return fail(r, -EIO, "read error: %s", strerror(EIO));
	if (!r->len)
		return 0;
	if (r->line[r->len - 1] != '\n')
		return fail(r, -EBADMSG, "truncated at line %zu (no end marker)", r->lineno);
	r->line[--r->len] = '\0';
	return 1;
}

/*
 * Splits r->line at single spaces; empty fields and control bytes are
 * errors in any line. Past MAX_TOKENS fields only r->too_many is set: a line
 * kind this reader does not know may have more, and is skipped whole.
 */
static int tokenize(struct rec_reader *r)
{
	char *p = r->line;
	size_t i;

	for (i = 0; i < r->len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return bad_line(r, "control byte in record");
	r->ntok = 0;
	r->too_many = false;
	for (;;) {
		if (!*p || *p == ' ')
			return bad_line(r, "empty field");
		if (r->ntok < MAX_TOKENS)
			r->tok[r->ntok++] = p;
		else
			r->too_many = true;
		p = strchr(p, ' ');
		if (!p)
			return 0;
		if (!r->too_many)
			*p = '\0';
		p++;
	}
}

static bool parse_u64(const char *s, __u64 max, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_s64(const char *s, __s64 min, __s64 max, __s64 *out)
{
	const char *d = *s == '-' ? s + 1 : s;
	long long v;
	char *end;

	if (*d < '0' || *d > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_addr(const char *s, __u64 *out)
{
	unsigned long long v;
	char *end;

	if (s[0] != '0' || s[1] != 'x' || !s[2] || !strchr("0123456789abcdef", s[2]))
		return false;
	errno = 0;
	v = strtoull(s + 2, &end, 16);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decodes an escaped string field in place. Returns false on a bad escape.
 * *is_null is set for the "-" field (an absent string).
 */
static bool unescape(char *s, bool *is_null)
{
	char *o = s;
	int hi, lo;

	*is_null = !strcmp(s, "-");
	if (*is_null)
		return true;
	if (!strcmp(s, "\\e")) {
		*s = '\0';
		return true;
	}
	while (*s) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		switch (s[1]) {
		case '\\':
			*o++ = '\\';
			break;
		case 's':
			*o++ = ' ';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'x':
			hi = hexval(s[2]);
			lo = hi < 0 ? -1 : hexval(s[3]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			*o++ = hi << 4 | lo;
			s += 2;
			break;
		default:
			return false;
		}
		s += 2;
	}
	*o = '\0';
	return true;
}

/* An escaped string into a fixed buffer of size n; NULL is not allowed there. */
static bool str_to_buf(char *s, char *buf, size_t n)
{
	bool is_null;

	if (!unescape(s, &is_null) || is_null || strlen(s) >= n)
		return false;
	strcpy(buf, s);
	return true;
}

enum meta_type {
	META_STR,
	META_U64,
	META_U32,
	META_BOOL,
};

/* Every meta key this reader knows, and the version that added it. */
static const struct meta_key {
	const char *name;
	enum meta_type type;
	size_t off;		/* in struct model_meta */
	unsigned int since;
} meta_keys[] = {
#define KEY(name, type, since) { #name, type, offsetof(struct model_meta, name), since }
	KEY(version, META_STR, 1),
	KEY(kernel, META_STR, 1),
	KEY(hostname, META_STR, 1),
	KEY(boot_id, META_STR, 1),
	KEY(cmdline, META_STR, 1),
	KEY(filters, META_STR, 1),
	KEY(attach, META_STR, 1),
	KEY(start_s, META_U64, 1),
	KEY(end_s, META_U64, 1),
	KEY(sample_rate, META_U32, 1),
	KEY(interval_s, META_U64, 1),
	/* the report options: all or none (none: a run read from version 1, saved again) */
	KEY(older_ms, META_U64, 2),
	KEY(top, META_U64, 2),
	KEY(caches, META_BOOL, 2),
	KEY(exclude, META_STR, 2),
	KEY(cache, META_STR, 2),
#undef KEY
};

#define N_META (sizeof(meta_keys) / sizeof(meta_keys[0]))
/* meta_keys[REPORT_KEYS..N_META) are the report options */
#define REPORT_KEYS 11

static int parse_meta(struct rec_reader *r, struct model *m)
{
	const struct meta_key *k;
	void *field;
	bool is_null;
	size_t i;
	__u64 v;

	if (r->ntok != 3 || r->too_many)
		return bad_line(r, "bad meta record");
	for (i = 0; i < N_META; i++)
		if (!strcmp(r->tok[1], meta_keys[i].name) && meta_keys[i].since <= r->version)
			break;
	if (i == N_META && r->version >= 2) {
		/* a key a newer kleak added: see the format doc */
		r->unknown_meta++;
		return 0;
	}
	if (i == N_META)
		return fail(r, -EINVAL, "line %zu: unknown meta key '%s'", r->lineno, r->tok[1]);
	if (r->meta_seen & (1u << i))
		return fail(r, -EINVAL, "line %zu: duplicate meta key '%s'", r->lineno, r->tok[1]);
	r->meta_seen |= 1u << i;
	k = &meta_keys[i];
	field = (char *)&m->meta + k->off;
	switch (k->type) {
	case META_STR:
		if (!unescape(r->tok[2], &is_null))
			return bad_line(r, "bad escape in meta record");
		if (is_null)
			return 0;
		*(char **)field = strdup(r->tok[2]);
		return *(char **)field ? 0 : fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	case META_U64:
		if (!parse_u64(r->tok[2], UINT64_MAX, &v))
			return bad_line(r, "bad meta record");
		*(__u64 *)field = v;
		return 0;
	case META_U32:
		if (!parse_u64(r->tok[2], UINT32_MAX, &v))
			return bad_line(r, "bad meta record");
		*(__u32 *)field = v;
		return 0;
	case META_BOOL:
		if (!parse_u64(r->tok[2], 1, &v))
			return bad_line(r, "bad meta record");
		*(bool *)field = v;
		return 0;
	}
	return bad_line(r, "bad meta record");
}

/* Checks the meta keys of the whole file: each known one once, the report options as a group. */
static int check_meta(struct rec_reader *r, struct model *m)
{
	unsigned int report = r->meta_seen >> REPORT_KEYS;
	size_t i;

	for (i = 0; i < REPORT_KEYS; i++)
		if (!(r->meta_seen & (1u << i)))
			return fail(r, -EINVAL, "meta key '%s' missing", meta_keys[i].name);
	if (report && report != (1u << (N_META - REPORT_KEYS)) - 1) {
		for (i = REPORT_KEYS; r->meta_seen & (1u << i); i++)
			;
		return fail(r, -EINVAL, "meta key '%s' missing (the report options come together)",
			    meta_keys[i].name);
	}
	m->meta.report_saved = report != 0;
	return 0;
}

static int parse_stat(struct rec_reader *r, struct model *m)
{
	__u64 v;
	int i;

	if (r->ntok != 3 || r->too_many || !parse_u64(r->tok[2], UINT64_MAX, &v))
		return bad_line(r, "bad stat record");
	for (i = 0; i < STAT_MAX; i++)
		if (!strcmp(r->tok[1], model__stat_name(i)))
			break;
	if (i == STAT_MAX) {
		/* a counter of a newer kleak: not ours to show, see the format doc */
		if (!model__stat_retired(r->tok[1]))
			r->unknown_stats++;
		return 0;
	}
	if (r->stat_seen[i])
		return fail(r, -EINVAL, "line %zu: duplicate stat '%s'", r->lineno, r->tok[1]);
	r->stat_seen[i] = true;
	m->stats[i] = v;
	/* written with every allocator's other terms, by kleaks that keep them */
	if (i == STAT_PAGES_OUTSTANDING)
		m->allocator_books_kept = true;
	return 0;
}

static int parse_misc(struct rec_reader *r, __u64 *val, int idx)
{
	if (r->ntok != 2 || !parse_u64(r->tok[1], UINT64_MAX, val))
		return fail(r, -EINVAL, "line %zu: bad %s record", r->lineno, r->tok[0]);
	if (r->misc_seen[idx])
		return fail(r, -EINVAL, "line %zu: duplicate %s record", r->lineno, r->tok[0]);
	r->misc_seen[idx] = true;
	return 0;
}

static int parse_slab(struct rec_reader *r, struct model *m)
{
	struct model_slab *sl;

	if (r->ntok != 4)
		return bad_line(r, "bad slab record");
	if (m->n_slabs == RECORD_MAX_SLABS)
		return fail(r, -EFBIG, "line %zu: more than %d slab records", r->lineno,
			    RECORD_MAX_SLABS);
	sl = model__add_slab(m);
	if (!sl)
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	if (!str_to_buf(r->tok[1], sl->name, sizeof(sl->name)) ||
	    !parse_s64(r->tok[2], INT64_MIN, INT64_MAX, &sl->active_start) ||
	    !parse_s64(r->tok[3], INT64_MIN, INT64_MAX, &sl->active_end))
		return bad_line(r, "bad slab record");
	return 0;
}

/* "merged NAME ALIAS...": a cache's aliases; a cache with many takes several lines. */
static int parse_merged(struct rec_reader *r, struct model *m)
{
	char name[KLEAK_CACHE_NAME_LEN];
	struct model_merged *g = NULL;
	bool is_null;
	size_t i;
	int i_tok, err;

	if (r->ntok < 3 || !str_to_buf(r->tok[1], name, sizeof(name)))
		return bad_line(r, "bad merged record");
	for (i = 0; i < m->n_merged && !g; i++)
		if (!strcmp(m->merged[i].name, name))
			g = &m->merged[i];
	if (!g && m->n_merged == RECORD_MAX_MERGED)
		return fail(r, -EFBIG, "line %zu: more than %d merged caches", r->lineno,
			    RECORD_MAX_MERGED);
	if (!g) {
		g = model__add_merged(m, name);
		if (!g)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	}
	for (i_tok = 2; i_tok < r->ntok; i_tok++) {
		if (++r->total_aliases > RECORD_MAX_ALIASES)
			return fail(r, -EFBIG, "line %zu: more than %d merged cache aliases",
				    r->lineno, RECORD_MAX_ALIASES);
		if (!unescape(r->tok[i_tok], &is_null) || is_null || !*r->tok[i_tok])
			return bad_line(r, "bad merged record");
		err = model_merged__add_alias(g, r->tok[i_tok]);
		if (err == -EEXIST)
			return fail(r, -EINVAL, "line %zu: duplicate alias '%.32s' of %s",
				    r->lineno, r->tok[i_tok], name);
		if (err)
			return fail(r, err, "%s", strerror(-err));
	}
	return 0;
}

/*
 * "requires FEATURE": the file holds what a reader must not skip. This
 * reader knows the classes added within version 3 (held_features); any
 * other feature is refused.
 */
static int parse_requires(struct rec_reader *r)
{
	bool is_null;
	size_t i;

	if (r->ntok != 2 || !unescape(r->tok[1], &is_null) || is_null)
		return bad_line(r, "bad requires record");
	for (i = 0; r->version >= 3 && i < sizeof(held_features) / sizeof(held_features[0]); i++)
		if (!strcmp(r->tok[1], held_features[i].feature))
			return 0;
	return fail(r, -ENOTSUP, "written by a newer kleak: it requires '%.32s', which this "
		    "kleak does not know", r->tok[1]);
}

/* Line kinds of a site block, after its site line. */
static bool is_site_kind(const struct rec_reader *r, const char *k)
{
	if (r->version >= 3 && (!strcmp(k, "held") || !strcmp(k, "object") ||
				!strcmp(k, "mapping")))
		return true;
	return !strcmp(k, "ctx") || !strcmp(k, "comm") || !strcmp(k, "frame") ||
	       !strcmp(k, "ages") || !strcmp(k, "trend");
}

static bool is_known_kind(const struct rec_reader *r, const char *k)
{
	static const char *const v1[] = {
		"meta", "stat", "recursion_misses", "unresolved_frames", "slab", "site",
	};
	size_t i;

	for (i = 0; i < sizeof(v1) / sizeof(v1[0]); i++)
		if (!strcmp(k, v1[i]))
			return true;
	if (r->version >= 2 && (!strcmp(k, "merged") || !strcmp(k, "requires")))
		return true;
	if (r->version >= 3 && (!strcmp(k, "ustack") || !strcmp(k, "uframe") ||
				!strcmp(k, "meminfo") || !strcmp(k, "outstanding") ||
				!strcmp(k, "classified")))
		return true;
	return is_site_kind(r, k);
}

/* Whether kind k is in the ", "-separated list. */
static bool kind_listed(const char *list, const char *k)
{
	size_t n = strlen(k);
	const char *p;

	for (p = strstr(list, k); p; p = strstr(p + n, k))
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

/* A record of a kind a newer kleak added: skipped, counted, its kind named in the warning. */
static void skip_unknown(struct rec_reader *r, const char *k)
{
	size_t used = strlen(r->unknown_kinds);

	r->unknown_records++;
	if (kind_listed(r->unknown_kinds, k))
		return;
	/* a few kinds suffice to tell a person what was skipped; ", ..." must fit after them */
	if (used + 2 + strlen(k) + sizeof(", ...") > sizeof(r->unknown_kinds)) {
		if (!strstr(r->unknown_kinds, ", ..."))
			strcat(r->unknown_kinds, ", ...");
		return;
	}
	if (used)
		strcat(r->unknown_kinds, ", ");
	strcat(r->unknown_kinds, k);
}

/* Checks that the open site got everything its site line announced. */
static int close_site(struct rec_reader *r)
{
	struct model_site *s = r->site;
	size_t line = r->site_line;

	if (!s)
		return 0;
	r->site = NULL;
	if (!r->site_ctx)
		return fail(r, -EINVAL, "line %zu: site without ctx record", line);
	if (s->n_frames != r->want_frames)
		return fail(r, -EINVAL, "line %zu: site announced %zu frames, found %zu", line,
			    r->want_frames, s->n_frames);
	if (s->n_ages != r->want_ages)
		return fail(r, -EINVAL, "line %zu: site announced %zu ages, found %zu", line,
			    r->want_ages, s->n_ages);
	if (s->n_trend != r->want_trend)
		return fail(r, -EINVAL, "line %zu: site announced %zu trend values, found %zu",
			    line, r->want_trend, s->n_trend);
	if (s->held && r->n_held != s->n_ages)
		return fail(r, -EINVAL, "line %zu: site has %zu ages and %zu held values", line,
			    s->n_ages, r->n_held);
	return 0;
}

/* "held C C ...": the class of each age's object, in the ages' order (version 3). */
static int parse_held(struct rec_reader *r)
{
	struct model_site *s = r->site;
	size_t i;
	__u64 v;

	if (r->ntok < 2)
		return bad_line(r, "bad held record");
	if (!s->held) {
		/* the ages announced bound it; they are read in any order with it */
		s->held = calloc(r->want_ages ? r->want_ages : 1, 1);
		if (!s->held)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	}
	for (i = 1; i < (size_t)r->ntok; i++) {
		if (r->n_held == r->want_ages)
			return bad_line(r, "more held values than the site announced ages");
		if (!parse_u64(r->tok[i], HELD_MAX - 1, &v))
			return bad_line(r, "bad held record");
		s->held[r->n_held++] = v;
	}
	return 0;
}

/* "object CLASS PID TGID FD COUNT LAST_RAN_MS COMM DESC": an example (version 3). */
static int parse_object(struct rec_reader *r)
{
	struct model_site *s = r->site;
	struct model_object *e;
	__u64 pid, tgid, count;
	__s64 fd, ran;
	bool is_null;
	int held;

	if (r->ntok != 9)
		return bad_line(r, "bad object record");
	if (s->n_examples == HELD_MAX * MODEL_HELD_EXAMPLES)
		return bad_line(r, "too many object records");
	held = unescape(r->tok[1], &is_null) && !is_null ? model__held_by_name(r->tok[1]) : -1;
	if (held < 0 || !parse_u64(r->tok[2], UINT32_MAX, &pid) ||
	    !parse_u64(r->tok[3], UINT32_MAX, &tgid) || !parse_s64(r->tok[4], -1, INT32_MAX, &fd) ||
	    !parse_u64(r->tok[5], UINT64_MAX, &count) ||
	    !parse_s64(r->tok[6], -1, INT64_MAX, &ran))
		return bad_line(r, "bad object record");
	e = model_site__add_example(s);
	if (!e)
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	e->held = held;
	e->pid = pid;
	e->tgid = tgid;
	e->fd = fd;
	e->count = count;
	e->last_ran_ms = ran;
	if (!str_to_buf(r->tok[7], e->comm, sizeof(e->comm)) || !unescape(r->tok[8], &is_null))
		return bad_line(r, "bad object record");
	if (!is_null) {
		e->desc = strdup(r->tok[8]);
		if (!e->desc)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	}
	return 0;
}

/* "mapping START END": the range of the mapped example just before it (version 3). */
static int parse_mapping(struct rec_reader *r)
{
	struct model_site *s = r->site;
	struct model_object *e = s->n_examples ? &s->examples[s->n_examples - 1] : NULL;
	__u64 start, end;

	if (r->ntok != 3 || !e || e->held != HELD_MAPPED || e->map_end ||
	    !parse_addr(r->tok[1], &start) || !parse_addr(r->tok[2], &end) || end <= start)
		return bad_line(r, "bad mapping record");
	e->map_start = start;
	e->map_end = end;
	return 0;
}

/* "classified KINDS MISSING": what the run classified, and why not the rest (version 3). */
static int parse_classified(struct rec_reader *r, struct model *m)
{
	bool null_k, null_m;

	if (r->ntok != 3 || r->classified_seen || !unescape(r->tok[1], &null_k) ||
	    !unescape(r->tok[2], &null_m))
		return bad_line(r, "bad classified record");
	r->classified_seen = true;
	m->held_kinds = null_k ? NULL : strdup(r->tok[1]);
	m->held_missing = null_m ? NULL : strdup(r->tok[2]);
	if ((!null_k && !m->held_kinds) || (!null_m && !m->held_missing))
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	return 0;
}

static int parse_site(struct rec_reader *r, struct model *m)
{
	struct model_site *s;
	__u64 kind, nf, na, nt;
	__s64 serr;

	if (r->ntok != 13)
		return bad_line(r, "bad site record");
	if (m->n_sites == RECORD_MAX_SITES)
		return fail(r, -EFBIG, "line %zu: more than %d sites", r->lineno,
			    RECORD_MAX_SITES);
	s = model__add_site(m);
	if (!s)
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	for (kind = 0; kind < N_KINDS; kind++)
		if (!strcmp(r->tok[1], kind_names[kind]))
			break;
	/* the allocators beside slab came with version 3 */
	if (kind == N_KINDS || (kind >= KLEAK_SITE_PAGES && r->version < 3) ||
	    !str_to_buf(r->tok[2], s->cache, sizeof(s->cache)) ||
	    !parse_u64(r->tok[3], UINT64_MAX, &s->obj_size) ||
	    !parse_s64(r->tok[4], INT_MIN, 0, &serr) ||
	    !parse_s64(r->tok[5], INT64_MIN, INT64_MAX, &s->count) ||
	    !parse_s64(r->tok[6], INT64_MIN, INT64_MAX, &s->bytes) ||
	    !parse_u64(r->tok[7], UINT64_MAX, &s->allocs) ||
	    !parse_u64(r->tok[8], UINT64_MAX, &s->retired) ||
	    !parse_u64(r->tok[9], UINT64_MAX, &s->retired_bytes) ||
	    !parse_u64(r->tok[10], KLEAK_MAX_STACK_DEPTH, &nf) ||
	    !parse_u64(r->tok[11], RECORD_MAX_AGES, &na) ||
	    !parse_u64(r->tok[12], RECORD_MAX_TREND, &nt))
		return bad_line(r, "bad site record");
	s->kind = kind;
	s->stack_err = serr;
	r->total_ages += na;
	if (r->total_ages > RECORD_MAX_AGES)
		return fail(r, -EFBIG, "line %zu: more than %d ages in the file", r->lineno,
			    RECORD_MAX_AGES);
	/* frames are few and bounded: allocate them now; ages and trend grow as read */
	if (nf) {
		s->frames = calloc(nf, sizeof(*s->frames));
		if (!s->frames)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	}
	r->site = s;
	r->site_line = r->lineno;
	r->site_ctx = false;
	r->want_frames = nf;
	r->want_ages = na;
	r->want_trend = nt;
	r->n_held = 0;
	return 0;
}

static int parse_ctx(struct rec_reader *r)
{
	int i;

	if (r->site_ctx)
		return bad_line(r, "duplicate ctx record");
	if (r->ntok != 1 + KLEAK_CTX_MAX)
		return bad_line(r, "bad ctx record");
	for (i = 0; i < KLEAK_CTX_MAX; i++)
		if (!parse_u64(r->tok[1 + i], UINT64_MAX, &r->site->ctx[i]))
			return bad_line(r, "bad ctx record");
	r->site_ctx = true;
	return 0;
}

static int parse_comm(struct rec_reader *r)
{
	struct model_site *s = r->site;
	struct model_comm *c;

	if (r->ntok != 3)
		return bad_line(r, "bad comm record");
	if (s->n_comms == MODEL_TOP_COMMS)
		return bad_line(r, "too many comm records");
	c = &s->comms[s->n_comms];
	if (!str_to_buf(r->tok[1], c->comm, sizeof(c->comm)) ||
	    !parse_u64(r->tok[2], UINT64_MAX, &c->count))
		return bad_line(r, "bad comm record");
	s->n_comms++;
	return 0;
}

static int parse_frame(struct rec_reader *r, struct model *m)
{
	struct model_site *s = r->site;
	struct model_frame *fr;
	bool is_null;

	if (r->ntok != 3)
		return bad_line(r, "bad frame record");
	if (s->n_frames == r->want_frames)
		return bad_line(r, "more frames than the site announced");
	fr = &s->frames[s->n_frames];
	if (!parse_addr(r->tok[1], &fr->addr) || !unescape(r->tok[2], &is_null))
		return bad_line(r, "bad frame record");
	if (!is_null) {
		fr->sym = strdup(r->tok[2]);
		if (!fr->sym)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	}
	/* a file that has them keeps them when saved again */
	if (fr->addr)
		m->meta.raw_addresses = true;
	s->n_frames++;
	return 0;
}

/* "ustack STATE", version 3: once per site, before its uframe lines. */
static int parse_ustack(struct rec_reader *r)
{
	struct model_site *s = r->site;
	bool is_null;
	__u32 st;

	if (r->ntok != 2 || !unescape(r->tok[1], &is_null) || is_null)
		return bad_line(r, "bad ustack record");
	for (st = KLEAK_USTACK_OK; st < KLEAK_USTACK_STATES; st++)
		if (!strcmp(r->tok[1], model__ustate_name(st)))
			break;
	if (st == KLEAK_USTACK_STATES || s->ustate != KLEAK_USTACK_OFF)
		return bad_line(r, "bad ustack record");
	s->ustate = st;
	return 0;
}

/* An unescaped string field into *out, NULL for "-"; false on a bad one. */
static bool take_str(char *tok, char **out, bool *oom)
{
	bool is_null;

	*out = NULL;
	if (!unescape(tok, &is_null))
		return false;
	if (is_null)
		return true;
	*out = strdup(tok);
	*oom = !*out;
	return *out != NULL;
}

/* "uframe BUILD_ID FILE_OFFSET SYM MODULE SRCLINE REPLACED", version 3. */
static int parse_uframe(struct rec_reader *r)
{
	struct model_site *s = r->site;
	struct model_uframe *f, *grown;
	bool oom = false;
	__u64 replaced;

	if (r->ntok != 7 || s->ustate != KLEAK_USTACK_OK)
		return bad_line(r, "bad uframe record");
	if (s->n_uframes == KLEAK_MAX_USTACK_DEPTH)
		return bad_line(r, "more user frames than the format allows");
	grown = realloc(s->uframes, (s->n_uframes + 1) * sizeof(*grown));
	if (!grown)
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	s->uframes = grown;
	f = &s->uframes[s->n_uframes++];
	memset(f, 0, sizeof(*f));
	/* BUILD_ID "-": the kernel gave a raw address, which FILE_OFFSET then is */
	if ((strcmp(r->tok[1], "-") &&
	     (!str_to_buf(r->tok[1], f->build_id, sizeof(f->build_id)) ||
	      strlen(f->build_id) != 2 * KLEAK_BUILD_ID_SIZE ||
	      strspn(f->build_id, "0123456789abcdef") != strlen(f->build_id))) ||
	    !parse_addr(r->tok[2], &f->offset) ||
	    !take_str(r->tok[3], &f->sym, &oom) || !take_str(r->tok[4], &f->module, &oom) ||
	    !take_str(r->tok[5], &f->srcline, &oom) || !parse_u64(r->tok[6], 1, &replaced))
		return oom ? fail(r, -ENOMEM, "%s", strerror(ENOMEM)) :
			     bad_line(r, "bad uframe record");
	f->replaced = replaced;
	return 0;
}

/* Appends the values of an ages or trend line, growing the array by doubling. */
static int parse_values(struct rec_reader *r, void **arr, size_t *n, size_t want, bool is_signed)
{
	size_t sz = is_signed ? sizeof(__s64) : sizeof(__u32);
	size_t cnt = r->ntok - 1, cap, i;
	__s64 sv;
	__u64 uv;
	void *p;

	if (cnt > want - *n)
		return fail(r, -EINVAL, "line %zu: more %s values than the site announced",
			    r->lineno, r->tok[0]);
	for (cap = 1; cap < *n; cap *= 2)
		;
	if (*n + cnt > cap || !*arr) {
		while (cap < *n + cnt)
			cap *= 2;
		p = realloc(*arr, cap * sz);
		if (!p)
			return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
		*arr = p;
	}
	for (i = 0; i < cnt; i++) {
		if (is_signed) {
			if (!parse_s64(r->tok[1 + i], INT64_MIN, INT64_MAX, &sv))
				return bad_line(r, "bad trend record");
			((__s64 *)*arr)[*n] = sv;
		} else {
			if (!parse_u64(r->tok[1 + i], UINT32_MAX, &uv))
				return bad_line(r, "bad ages record");
			if (*n && uv > ((__u32 *)*arr)[*n - 1])
				return bad_line(r, "ages not sorted oldest first");
			((__u32 *)*arr)[*n] = uv;
		}
		(*n)++;
	}
	return 0;
}

/* "meminfo KEY START END", since 3: a kernel counter of an allocator, in kB. */
static int parse_meminfo(struct rec_reader *r, struct model *m)
{
	struct model_kcounter_val *v;
	int i;

	if (r->ntok != 4)
		return bad_line(r, "bad meminfo record");
	for (i = 0; i < KC_MAX; i++)
		if (!strcmp(r->tok[1], model__kcounter_name(i)))
			break;
	/* a counter a newer kleak added says less when skipped, never something wrong */
	if (i == KC_MAX) {
		skip_unknown(r, "meminfo");
		return 0;
	}
	v = &m->kcounters[i];
	if (v->seen)
		return fail(r, -EINVAL, "line %zu: duplicate meminfo '%s'", r->lineno, r->tok[1]);
	if (!parse_s64(r->tok[2], INT64_MIN, INT64_MAX, &v->start_kb) ||
	    !parse_s64(r->tok[3], INT64_MIN, INT64_MAX, &v->end_kb))
		return bad_line(r, "bad meminfo record");
	v->seen = true;
	return 0;
}

static int parse_record(struct rec_reader *r, struct model *m)
{
	const char *k = r->tok[0];
	struct model_site *s = r->site;
	int err;

	/*
	 * A kind a newer kleak of this version added is skipped where it
	 * stands, inside a site block too: it never closes one.
	 */
	if (r->version >= 2 && !is_known_kind(r, k)) {
		skip_unknown(r, k);
		return 0;
	}
	if (r->too_many)
		return bad_line(r, "too many fields");
	if (s && !strcmp(k, "ctx"))
		return parse_ctx(r);
	if (s && !strcmp(k, "comm"))
		return parse_comm(r);
	if (s && !strcmp(k, "frame"))
		return parse_frame(r, m);
	if (s && r->version >= 3 && !strcmp(k, "ustack"))
		return parse_ustack(r);
	if (s && r->version >= 3 && !strcmp(k, "uframe"))
		return parse_uframe(r);
	if (s && !strcmp(k, "ages") && r->ntok > 1)
		return parse_values(r, (void **)&s->ages_ms, &s->n_ages, r->want_ages, false);
	if (s && !strcmp(k, "trend") && r->ntok > 1)
		return parse_values(r, (void **)&s->trend, &s->n_trend, r->want_trend, true);
	if (s && r->version >= 3 && !strcmp(k, "held"))
		return parse_held(r);
	if (s && r->version >= 3 && !strcmp(k, "object"))
		return parse_object(r);
	if (s && r->version >= 3 && !strcmp(k, "mapping"))
		return parse_mapping(r);

	err = close_site(r);
	if (err)
		return err;
	if (!strcmp(k, "meta"))
		return parse_meta(r, m);
	if (!strcmp(k, "stat"))
		return parse_stat(r, m);
	if (!strcmp(k, "recursion_misses"))
		return parse_misc(r, &m->recursion_misses, 0);
	if (!strcmp(k, "unresolved_frames"))
		return parse_misc(r, &m->unresolved_frames, 1);
	if (r->version >= 3 && !strcmp(k, "outstanding")) {
		m->books_kept = true;
		return parse_misc(r, &m->outstanding, 2);
	}
	if (!strcmp(k, "slab"))
		return parse_slab(r, m);
	if (r->version >= 2 && !strcmp(k, "merged"))
		return parse_merged(r, m);
	if (r->version >= 2 && !strcmp(k, "requires"))
		return parse_requires(r);
	if (r->version >= 3 && !strcmp(k, "meminfo"))
		return parse_meminfo(r, m);
	if (r->version >= 3 && !strcmp(k, "classified"))
		return parse_classified(r, m);
	if (!strcmp(k, "site"))
		return parse_site(r, m);
	return fail(r, -EINVAL, "line %zu: unexpected record '%.32s'", r->lineno, k);
}

/* Whether buf[0..n) could be the start of a valid header line. */
static bool is_header_prefix(const char *buf, size_t n)
{
	static const char magic[] = RECORD_MAGIC " ";
	size_t m = sizeof(magic) - 1;

	if (memchr(buf, '\0', n))
		return false;
	if (n <= m)
		return !strncmp(buf, magic, n);
	return !strncmp(buf, magic, m) && strspn(buf + m, "0123456789") == n - m;
}

/*
 * Checks the first line. Returns 0 for a supported header, or an error; a
 * file that is a strict prefix of a valid header counts as truncated.
 */
static int check_header(struct rec_reader *r)
{
	static const char magic[] = RECORD_MAGIC " ";
	size_t m = sizeof(magic) - 1, n = 0;
	char buf[32];
	__u64 ver;
	int c;

	while (n < sizeof(buf) - 1 && (c = getc(r->f)) != EOF && c != '\n')
		buf[n++] = c;
	buf[n] = '\0';
	if (ferror(r->f))
		return fail(r, -EIO, "read error: %s", strerror(EIO));
	if (!n && c == EOF)
		return fail(r, -EINVAL, "empty file, not a kleak run file");
	if (c == EOF && is_header_prefix(buf, n))
		return fail(r, -EBADMSG, "truncated at line 1 (no end marker)");
	if (c != '\n' || memchr(buf, '\0', n) || strncmp(buf, magic, m))
		return fail(r, -EINVAL, "not a kleak run file");
	if (!parse_u64(buf + m, UINT32_MAX, &ver))
		return fail(r, -EINVAL, "not a kleak run file (bad version '%.16s')", buf + m);
	if (ver < RECORD_MIN_VERSION || ver > RECORD_VERSION)
		return fail(r, -ENOTSUP, "unsupported format version %" PRIu64
			    " (this kleak reads versions %d to %d)", (uint64_t)ver,
			    RECORD_MIN_VERSION, RECORD_VERSION);
	r->version = ver;
	return 0;
}

/* Parses "end N CRC" strictly: single spaces, N decimal, CRC 8 lowercase hex digits. */
static bool parse_end(char *s, __u64 *n_sites, __u64 *crc)
{
	char *sp;

	if (strncmp(s, "end ", 4))
		return false;
	s += 4;
	sp = strchr(s, ' ');
	if (!sp)
		return false;
	*sp = '\0';
	if (!parse_u64(s, RECORD_MAX_SITES, n_sites))
		return false;
	s = sp + 1;
	if (strlen(s) != 8 || strspn(s, "0123456789abcdef") != 8)
		return false;
	*crc = strtoull(s, NULL, 16);
	return true;
}

/*
 * The whole-file check: the last line must be a complete end line and the
 * CRC32 of every byte before it must match. Sets *end_line to its line number
 * and *n_sites to the count it carries.
 */
static int check_integrity(struct rec_reader *r, off_t size, size_t *end_line, __u64 *n_sites)
{
	unsigned char chunk[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t lines = 0, tlen, got, i;
	char tail[END_LINE_MAX + 1], *start = NULL, *nl;
	off_t pos, end_off;
	bool ends_nl;
	__u64 want;

	tlen = size < END_LINE_MAX ? (size_t)size : END_LINE_MAX;
	errno = 0;
	if (fseeko(r->f, size - (off_t)tlen, SEEK_SET) || fread(tail, 1, tlen, r->f) != tlen)
		return fail(r, -EIO, "read error: %s", strerror(errno ? errno : EIO));
	tail[tlen] = '\0';
	ends_nl = tlen && tail[tlen - 1] == '\n';
	if (ends_nl) {
		tail[tlen - 1] = '\0';
		nl = memrchr(tail, '\n', tlen - 1);
		if (nl)
			start = nl + 1;
		else if (tlen == (size_t)size)
			start = tail;
		/* the end line holds no NUL byte and begins with "end " */
		if (start && (strlen(start) != tlen - 1 - (size_t)(start - tail) ||
			      strncmp(start, "end ", 4)))
			start = NULL;
	}
	end_off = start ? size - (off_t)(tlen - (size_t)(start - tail)) : size;

	/* count lines over the whole file; the checksum stops where the end line starts */
	rewind(r->f);
	for (pos = 0; pos < size; pos += got) {
		got = size - pos < (off_t)sizeof(chunk) ? (size_t)(size - pos) : sizeof(chunk);
		errno = 0;
		if (fread(chunk, 1, got, r->f) != got)
			return fail(r, -EIO, "read error: %s", strerror(errno ? errno : EIO));
		for (i = 0; i < got; i++)
			lines += chunk[i] == '\n';
		if (pos < end_off)
			crc = crc32(crc, chunk, pos + (off_t)got > end_off ? (size_t)(end_off - pos) : got);
	}
	if (!start)
		return fail(r, -EBADMSG, "truncated at line %zu (no end marker)", lines + 1);
	*end_line = lines;
	if (!parse_end(start, n_sites, &want))
		return fail(r, -EINVAL, "line %zu: bad end record", lines);
	if (want != crc)
		return fail(r, -EBADMSG, "checksum mismatch (file corrupt)");
	return 0;
}

/* One line for everything a newer writer added that this reader skipped. */
static void warn_unknown(const struct rec_reader *r)
{
	char what[160] = "";
	size_t n = 0;

	if (r->unknown_stats)
		n += snprintf(what + n, sizeof(what) - n, "%zu counters", r->unknown_stats);
	if (r->unknown_meta && n < sizeof(what))
		n += snprintf(what + n, sizeof(what) - n, "%s%zu meta keys", n ? ", " : "",
			      r->unknown_meta);
	if (r->unknown_records && n < sizeof(what))
		n += snprintf(what + n, sizeof(what) - n, "%s%zu records (%s)", n ? ", " : "",
			      r->unknown_records, r->unknown_kinds);
	if (n)
		pr_warn("%s: %s unknown to this kleak ignored (written by a newer kleak?)",
			r->path, what);
}

static int read_model(struct rec_reader *r, struct model *m)
{
	size_t end_line;
	__u64 n_sites;
	off_t size;
	int err;

	if (fseeko(r->f, 0, SEEK_END) || (size = ftello(r->f)) < 0)
		return fail(r, -errno, "%s", strerror(errno));
	rewind(r->f);
	err = check_header(r);
	if (err)
		return err;
	err = check_integrity(r, size, &end_line, &n_sites);
	if (err)
		return err;

	r->line = malloc(RECORD_MAX_LINE + 1);
	if (!r->line)
		return fail(r, -ENOMEM, "%s", strerror(ENOMEM));
	/* past the header, already checked */
	rewind(r->f);
	while ((err = getc(r->f)) != '\n' && err != EOF)
		;
	r->lineno = 1;
	while (r->lineno + 1 < end_line) {
		err = read_line(r);
		if (err <= 0)
			return err ? err : fail(r, -EIO, "file changed while read");
		err = tokenize(r);
		if (!err)
			err = parse_record(r, m);
		if (err)
			return err;
	}
	r->lineno++;
	err = close_site(r);
	if (err)
		return err;
	if (n_sites != m->n_sites)
		return fail(r, -EINVAL, "line %zu: end record counts %" PRIu64
			    " sites, the file holds %zu", end_line, (uint64_t)n_sites, m->n_sites);
	err = check_meta(r, m);
	if (err)
		return err;
	model__count_held(m);
	warn_unknown(r);
	return 0;
}

int record__read(const char *path, struct model **out)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	int err;

	*out = NULL;
	err = !f || fstat(fileno(f), &st) ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (err) {
		pr_err("%s: %s", path, err == -EINVAL ? "not a regular file" : strerror(-err));
		if (f)
			fclose(f);
		return err;
	}
	err = record__read_file(f, path, out);
	fclose(f);
	return err;
}

int record__read_file(FILE *f, const char *path, struct model **out)
{
	struct rec_reader r = {};
	struct model *m;
	int err;

	*out = NULL;
	m = model__new();
	if (!m) {
		err = -errno;
		pr_err("%s: %s", path, strerror(-err));
		return err;
	}
	r.path = path;
	r.f = f;
	err = read_model(&r, m);
	free(r.line);
	if (err) {
		pr_err("%s: %s", path, r.msg[0] ? r.msg : strerror(-err));
		model__free(m);
		return err;
	}
	*out = m;
	return 0;
}
