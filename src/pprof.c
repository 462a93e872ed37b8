// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pprof's profile.proto, gzip-compressed, as go tool pprof, Pyroscope and
 * Parca read it: one sample per site with two values, objects/count and
 * space/bytes outstanding (a diff: B minus A, one sample per row of kleak
 * diff with the frames it prints), its frames as locations, leaf first,
 * whose functions are the symbols without offsets and whose mappings are
 * the kernel and its modules, without kernel addresses (they give away the
 * KASLR offset) unless --raw-addresses asks for them; the cache is the leaf
 * location, so -top lists caches, and a label too, as are the allocating
 * comms and contexts and a classified site's class (held_by: one sample
 * per class).
 * The run's metadata goes into comments. protobuf-c encodes it (the C it
 * runs is generated from src/profile.proto), zlib compresses it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "export.h"
#include "profile.pb-c.h"

#define MAX_LABELS (1 + MODEL_TOP_COMMS + KLEAK_CTX_MAX + 2)
#define NS_PER_S 1000000000LL

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;

/* Open addressing over 64-bit keys; a slot holds index + 1, 0 when empty. */
struct index {
	size_t cap;
	size_t *slots;
};

struct builder {
	Profile p;
	size_t cap_strings;
	struct index strings;	/* by the string's hash */
	struct index locations;	/* by address and function */
	/* per string index: the id of the function of that name; 0: none yet */
	size_t cap_function_of;
	__u64 *function_of;
	size_t cap_samples, cap_functions, cap_locations, cap_mappings, cap_comments;
};

static __u64 hash64(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static __u64 hash_str(const char *s)
{
	__u64 h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

static int grow(void *pv, size_t *cap, size_t need, size_t size)
{
	void **p = pv;
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	memset((char *)q + *cap * size, 0, (n - *cap) * size);
	*p = q;
	*cap = n;
	return 0;
}

/* Where key is, or the empty slot it goes in; eq(ctx, i) tells whether entry i is key. */
static size_t *index_slot(struct index *ix, __u64 h, bool (*eq)(const struct builder *, size_t,
								 const void *),
			  const struct builder *b, const void *key)
{
	size_t i = hash64(h) & (ix->cap - 1);

	while (ix->slots[i] && !eq(b, ix->slots[i] - 1, key))
		i = (i + 1) & (ix->cap - 1);
	return &ix->slots[i];
}

/* Keeps the table at most half full; rehash(b, i) gives entry i's hash. */
static int index_reserve(struct index *ix, size_t n, __u64 (*rehash)(const struct builder *, size_t),
			 const struct builder *b)
{
	size_t cap = ix->cap ? ix->cap : 256, i, j;
	size_t *slots;

	if (n * 2 < ix->cap)
		return 0;
	while (n * 2 >= cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < ix->cap; i++) {
		if (!ix->slots[i])
			continue;
		j = hash64(rehash(b, ix->slots[i] - 1)) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = slots;
	ix->cap = cap;
	return 0;
}

static bool str_eq(const struct builder *b, size_t i, const void *key)
{
	return !strcmp(b->p.string_table[i], key);
}

static __u64 str_rehash(const struct builder *b, size_t i)
{
	return hash_str(b->p.string_table[i]);
}

/* The string table index of s, added if new; -ENOMEM. */
static __s64 intern(struct builder *b, const char *s)
{
	size_t *slot;
	char *copy;

	if (index_reserve(&b->strings, b->p.n_string_table + 1, str_rehash, b))
		return -ENOMEM;
	slot = index_slot(&b->strings, hash_str(s), str_eq, b, s);
	if (*slot)
		return *slot - 1;
	if (grow(&b->p.string_table, &b->cap_strings, b->p.n_string_table + 1, sizeof(char *)) ||
	    grow(&b->function_of, &b->cap_function_of, b->p.n_string_table + 1, sizeof(__u64)))
		return -ENOMEM;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	b->p.string_table[b->p.n_string_table] = copy;
	*slot = ++b->p.n_string_table;
	return *slot - 1;
}

static __s64 vintern(struct builder *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static __s64 vintern(struct builder *b, const char *fmt, va_list ap)
{
	char *s;
	__s64 i;

	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	i = intern(b, s);
	free(s);
	return i;
}

static __s64 intern_fmt(struct builder *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static __s64 intern_fmt(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	__s64 i;

	va_start(ap, fmt);
	i = vintern(b, fmt, ap);
	va_end(ap);
	return i;
}

/*
 * The mapping of a module ("[kernel]", "[xfs]"), widened to cover addr; one
 * without addresses (0: not --raw-addresses) spans nothing.
 */
static __s64 mapping_of(struct builder *b, __s64 filename, __u64 addr)
{
	Mapping *mp;
	size_t i;

	for (i = 0; i < b->p.n_mapping; i++) {
		mp = b->p.mapping[i];
		if (mp->filename != filename)
			continue;
		if (addr && (!mp->memory_start || addr < mp->memory_start))
			mp->memory_start = addr;
		if (addr && addr >= mp->memory_limit)
			mp->memory_limit = addr + 1;
		return mp->id;
	}
	if (grow(&b->p.mapping, &b->cap_mappings, i + 1, sizeof(*b->p.mapping)))
		return -ENOMEM;
	mp = malloc(sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	perftools__profiles__mapping__init(mp);
	mp->id = i + 1;
	mp->filename = filename;
	mp->memory_start = addr;
	mp->memory_limit = addr ? addr + 1 : 0;
	/* symbolized already: readers must not look for the kernel's binaries */
	mp->has_functions = true;
	b->p.mapping[b->p.n_mapping++] = mp;
	return mp->id;
}

static __s64 function_of(struct builder *b, __s64 name, __s64 module)
{
	Function *fn;

	if (b->function_of[name])
		return b->function_of[name];
	if (grow(&b->p.function, &b->cap_functions, b->p.n_function + 1, sizeof(*b->p.function)))
		return -ENOMEM;
	fn = malloc(sizeof(*fn));
	if (!fn)
		return -ENOMEM;
	perftools__profiles__function__init(fn);
	fn->id = b->p.n_function + 1;
	fn->name = name;
	fn->system_name = name;
	/* no source files in a kernel stack: -files groups by module */
	fn->filename = module;
	b->p.function[b->p.n_function++] = fn;
	b->function_of[name] = fn->id;
	return fn->id;
}

struct loc_key {
	__u64 addr;
	__u64 function_id;
};

static bool loc_eq(const struct builder *b, size_t i, const void *key)
{
	const struct loc_key *k = key;
	const Location *l = b->p.location[i];

	return l->address == k->addr && l->line[0]->function_id == k->function_id;
}

static __u64 loc_hash(__u64 addr, __u64 function_id)
{
	return addr * 31 + function_id;
}

static __u64 loc_rehash(const struct builder *b, size_t i)
{
	return loc_hash(b->p.location[i]->address, b->p.location[i]->line[0]->function_id);
}

/*
 * The location of one frame: name as export.h gives it, "func [mod]"
 * becoming function "func" in mapping "[mod]", the kernel's own "[kernel]";
 * the cache and "stack not captured" frames have no mapping. addr is 0
 * unless --raw-addresses: the location is then one per function.
 */
static __s64 location_of(struct builder *b, const char *name, __u64 addr, bool code)
{
	struct loc_key key = { .addr = addr };
	__s64 fname, module = 0, mapping = 0, fid;
	const char *mod = NULL;
	size_t mod_len = 0, *slot;
	struct {
		Location l;
		Line line;
		Line *lines[1];
	} *e;

	if (code)
		mod = export__module(name, &mod_len);
	if (mod) {
		fname = intern_fmt(b, "%.*s", (int)(mod - 2 - name), name);
		module = intern_fmt(b, "[%.*s]", (int)mod_len, mod);
	} else {
		fname = intern(b, name);
		module = code ? intern(b, "[kernel]") : 0;
	}
	if (fname < 0 || module < 0)
		return -ENOMEM;
	fid = function_of(b, fname, module);
	if (fid < 0)
		return fid;
	key.function_id = fid;
	if (index_reserve(&b->locations, b->p.n_location + 1, loc_rehash, b))
		return -ENOMEM;
	slot = index_slot(&b->locations, loc_hash(addr, fid), loc_eq, b, &key);
	if (*slot)
		return b->p.location[*slot - 1]->id;
	if (code) {
		mapping = mapping_of(b, module, addr);
		if (mapping < 0)
			return mapping;
	}
	if (grow(&b->p.location, &b->cap_locations, b->p.n_location + 1, sizeof(*b->p.location)))
		return -ENOMEM;
	/* one allocation per location: the Location first, so freeing it frees all */
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	perftools__profiles__location__init(&e->l);
	perftools__profiles__line__init(&e->line);
	e->line.function_id = fid;
	e->lines[0] = &e->line;
	e->l.id = b->p.n_location + 1;
	e->l.mapping_id = mapping;
	e->l.address = addr;
	e->l.n_line = 1;
	e->l.line = e->lines;
	b->p.location[b->p.n_location] = &e->l;
	*slot = ++b->p.n_location;
	return e->l.id;
}

/* One sample and its labels, allocated with it. */
struct sample_mem {
	Sample s;
	int64_t values[2];
	Label labels[MAX_LABELS];
	Label *label_ptrs[MAX_LABELS];
	uint64_t locations[];
};

static int add_label(struct builder *b, struct sample_mem *sm, const char *key, const char *str,
		     __s64 num, const char *unit)
{
	Label *l = &sm->labels[sm->s.n_label];
	__s64 k = intern(b, key), v = str ? intern(b, str) : 0, u = unit ? intern(b, unit) : 0;

	if (k < 0 || v < 0 || u < 0)
		return -ENOMEM;
	perftools__profiles__label__init(l);
	l->key = k;
	l->str = v;
	l->num = str ? 0 : num;
	l->num_unit = u;
	sm->label_ptrs[sm->s.n_label++] = l;
	return 0;
}

static int add_sample(struct builder *b, const struct export_set *x, const struct export_stack *st)
{
	const struct model_site *s = st->site;
	struct sample_mem *sm;
	size_t n, k, i;
	int err = 0;

	/* the class is a label: -tagfocus/-tagleaf pick it, the leaf stays the cache */
	n = st->n_frames - (export__held(st) >= 0);
	sm = calloc(1, sizeof(*sm) + n * sizeof(sm->locations[0]));
	if (!sm)
		return -ENOMEM;
	perftools__profiles__sample__init(&sm->s);
	b->p.sample[b->p.n_sample++] = &sm->s;
	/* leaf first: the cache, then the frames from the allocator down */
	for (i = n; i-- > 0 && !err;) {
		const struct export_frame *f = &st->frames[i];
		__s64 id = location_of(b, f->name, f->addr, f->code);

		if (id < 0)
			err = id;
		else
			sm->locations[sm->s.n_location_id++] = id;
	}
	sm->s.location_id = sm->locations;
	sm->s.value = sm->values;
	sm->s.n_value = 2;
	sm->values[0] = x->diff ? st->count[1] - st->count[0] : st->count[0];
	sm->values[1] = x->diff ? st->bytes[1] - st->bytes[0] : st->bytes[0];
	sm->s.label = sm->label_ptrs;
	if (!err)
		err = add_label(b, sm, "cache", s->cache, 0, NULL);
	if (!err)
		err = add_label(b, sm, "object_size", NULL, s->obj_size, "bytes");
	if (!err && st->split)
		err = add_label(b, sm, "held_by", model__held_name(st->held), 0, NULL);
	for (k = 0; !err && k < s->n_comms; k++)
		err = add_label(b, sm, "comm", s->comms[k].comm, 0, NULL);
	for (i = 0; !err && i < KLEAK_CTX_MAX; i++)
		if (s->ctx[i])
			err = add_label(b, sm, "context", model__ctx_name(i), 0, NULL);
	return err;
}

static int add_comment(struct builder *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_comment(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	__s64 i;

	va_start(ap, fmt);
	i = vintern(b, fmt, ap);
	va_end(ap);
	if (i < 0 || grow(&b->p.comment, &b->cap_comments, b->p.n_comment + 1,
			  sizeof(*b->p.comment)))
		return -ENOMEM;
	b->p.comment[b->p.n_comment++] = i;
	return 0;
}

static int add_run_comments(struct builder *b, const struct model *m, const char *label,
			    const char *name)
{
	const struct model_meta *mm = &m->meta;
	char *not_seen = export__not_seen(m);
	int err;

	if (!not_seen)
		return -ENOMEM;
	err = add_comment(b, "%skleak %s, kernel %s, host %s, tracing with %s%s%s", label,
			  mm->version ?: "?", mm->kernel ?: "?", mm->hostname ?: "?",
			  mm->attach ?: "?", name ? ", run file " : "", name ?: "");
	if (!err)
		err = add_comment(b, "%sfilters: %s; run %llu .. %llu (seconds since the epoch); "
				  "sample rate 1 in %u; command line: %s", label,
				  mm->filters && *mm->filters ? mm->filters : "none",
				  (unsigned long long)mm->start_s, (unsigned long long)mm->end_s,
				  mm->sample_rate ? mm->sample_rate : 1, mm->cmdline ?: "?");
	if (!err)
		err = add_comment(b, "%s%s", label, not_seen);
	free(not_seen);
	return err;
}

static ValueType *value_type(struct builder *b, ValueType *vt, const char *type, const char *unit)
{
	__s64 t = intern(b, type), u = intern(b, unit);

	if (t < 0 || u < 0)
		return NULL;
	perftools__profiles__value_type__init(vt);
	vt->type = t;
	vt->unit = u;
	return vt;
}

static void builder_free(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->p.n_string_table; i++)
		free(b->p.string_table[i]);
	for (i = 0; i < b->p.n_sample; i++)
		free(b->p.sample[i]);
	for (i = 0; i < b->p.n_location; i++)
		free(b->p.location[i]);
	for (i = 0; i < b->p.n_function; i++)
		free(b->p.function[i]);
	for (i = 0; i < b->p.n_mapping; i++)
		free(b->p.mapping[i]);
	free(b->p.string_table);
	free(b->p.sample);
	free(b->p.location);
	free(b->p.function);
	free(b->p.mapping);
	free(b->p.comment);
	free(b->function_of);
	free(b->strings.slots);
	free(b->locations.slots);
}

/* gzip (RFC 1952) of buf to out, as pprof files are. */
static int write_gzip(const uint8_t *buf, size_t len, FILE *out)
{
	unsigned char chunk[64 * 1024];
	z_stream z = {};
	int rc, err = 0;

	/* 15 + 16: the largest window, with a gzip header and trailer */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -ENOMEM;
	z.next_in = (uint8_t *)buf;
	z.avail_in = len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out) !=
		    sizeof(chunk) - z.avail_out) {
			err = errno ? -errno : -EIO;
			break;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return err;
}

int pprof__write(const struct export_set *x, FILE *out)
{
	const struct model *last = x->run[x->diff ? 1 : 0];
	struct builder b = { .p = PERFTOOLS__PROFILES__PROFILE__INIT };
	ValueType types[3], *type_ptrs[2];
	uint8_t *buf = NULL;
	size_t i, len;
	int err = 0;

	/* string 0 is "" in every profile */
	if (intern(&b, "") < 0 ||
	    !(type_ptrs[0] = value_type(&b, &types[0], "objects", "count")) ||
	    !(type_ptrs[1] = value_type(&b, &types[1], "space", "bytes")) ||
	    !(b.p.period_type = value_type(&b, &types[2], "space", "bytes"))) {
		err = -ENOMEM;
		goto out;
	}
	b.p.sample_type = type_ptrs;
	b.p.n_sample_type = 2;
	b.p.default_sample_type = types[1].type;
	b.p.period = 1;
	b.p.time_nanos = (__s64)last->meta.start_s * NS_PER_S;
	if (last->meta.end_s > last->meta.start_s)
		b.p.duration_nanos = (__s64)(last->meta.end_s - last->meta.start_s) * NS_PER_S;
	if (x->diff)
		err = add_comment(&b, "kleak diff: B minus A, of allocations %s",
				  x->older_ms ? "old enough (--older)" : "outstanding of any age");
	else
		err = add_comment(&b, "kleak report: allocations at least %llu ms old, outstanding",
				  (unsigned long long)x->older_ms);
	for (i = 0; !err && i < (x->diff ? 2u : 1u); i++)
		err = add_run_comments(&b, x->run[i], x->diff ? (i ? "B: " : "A: ") : "",
				       x->name[i]);
	if (!err && grow(&b.p.sample, &b.cap_samples, x->n ? x->n : 1, sizeof(*b.p.sample)))
		err = -ENOMEM;
	for (i = 0; !err && i < x->n; i++)
		err = add_sample(&b, x, &x->stacks[i]);
	if (err)
		goto out;
	len = perftools__profiles__profile__get_packed_size(&b.p);
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack(&b.p, buf);
	err = write_gzip(buf, len, out);
out:
	b.p.sample_type = NULL;
	b.p.period_type = NULL;
	free(buf);
	builder_free(&b);
	return err;
}
