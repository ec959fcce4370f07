/*-------------------------------------------------------------------------
 *
 * idmap.c
 *		Dense numbering of bigint ids (see idmap.h).
 *
 * Linear probing with a multiplicative (Fibonacci) hash keeps probes short
 * at the load factor of at most one half that rs_idmap_full() enforces.
 * Sorting uses an LSD radix sort on the ids, which for the millions of
 * users of a large shop is several times faster than qsort.
 *
 *-------------------------------------------------------------------------
 */
#include "idmap.h"
#include "threads.h"

#include <string.h>

/*
 * Fibonacci hashing: the top bits of id * 2^64 / phi.  The top bits depend
 * on every bit of the id, so ids on a stride (10000 + 7i) spread evenly.
 */
static inline int64_t
idmap_slot(const RsIdMap *map, int64_t id)
{
	return (int64_t) (((uint64_t) id * UINT64_C(0x9E3779B97F4A7C15)) >> map->shift);
}

size_t
rs_idmap_bytes(int64_t capacity)
{
	return (size_t) capacity * (sizeof(int64_t) + sizeof(int32_t)) +
		(size_t) (capacity / 2) * sizeof(int64_t);
}

void
rs_idmap_init(RsIdMap *map, void *buf, int64_t capacity)
{
	char	   *p = buf;

	map->capacity = capacity;
	map->shift = 64;
	for (int64_t c = capacity; c > 1; c >>= 1)
		map->shift--;
	map->count = 0;
	map->slot_keys = (int64_t *) p;
	p += (size_t) capacity * sizeof(int64_t);
	map->ids = (int64_t *) p;
	p += (size_t) (capacity / 2) * sizeof(int64_t);
	map->slot_index = (int32_t *) p;
	memset(map->slot_index, 0xff, (size_t) capacity * sizeof(int32_t));
}

/* Place id with the given index into its slot; the id must be absent. */
static void
idmap_place(RsIdMap *map, int64_t id, int32_t index)
{
	int64_t		mask = map->capacity - 1;
	int64_t		s = idmap_slot(map, id);

	while (map->slot_index[s] >= 0)
		s = (s + 1) & mask;
	map->slot_keys[s] = id;
	map->slot_index[s] = index;
}

void
rs_idmap_rehash(const RsIdMap *from, RsIdMap *to)
{
	for (int32_t i = 0; i < from->count; i++)
	{
		idmap_place(to, from->ids[i], i);
		to->ids[i] = from->ids[i];
	}
	to->count = from->count;
}

int32_t
rs_idmap_insert(RsIdMap *map, int64_t id)
{
	int64_t		mask = map->capacity - 1;
	int64_t		s = idmap_slot(map, id);

	for (;;)
	{
		int32_t		index = map->slot_index[s];

		if (index < 0)
			break;
		if (map->slot_keys[s] == id)
			return index;
		s = (s + 1) & mask;
	}
	map->slot_keys[s] = id;
	map->slot_index[s] = map->count;
	map->ids[map->count] = id;
	return map->count++;
}

/* How many ids ahead rs_idmap_insert_many prefetches: a few misses' worth */
#define IDMAP_PREFETCH_AHEAD 16

int64_t
rs_idmap_insert_many(RsIdMap *map, const int64_t *ids, int32_t *indexes, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
	{
		if (rs_idmap_full(map))
			return i;
		if (i + IDMAP_PREFETCH_AHEAD < n)
		{
			int64_t		s = idmap_slot(map, ids[i + IDMAP_PREFETCH_AHEAD]);

			__builtin_prefetch(&map->slot_index[s]);
			__builtin_prefetch(&map->slot_keys[s]);
		}
		indexes[i] = rs_idmap_insert(map, ids[i]);
	}
	return n;
}

int32_t
rs_idmap_lookup(const RsIdMap *map, int64_t id)
{
	int64_t		mask = map->capacity - 1;
	int64_t		s = idmap_slot(map, id);

	for (;;)
	{
		int32_t		index = map->slot_index[s];

		if (index < 0 || map->slot_keys[s] == id)
			return index;
		s = (s + 1) & mask;
	}
}

/*
 * Sort n (key, index) pairs by key with an LSD radix sort over 8-bit
 * digits.  Keys are biased by 2^63 so that negative ids sort first.  tmp
 * buffers hold n entries each; the result ends up in keys/index.
 */
static void
radix_sort_pairs(int64_t n, uint64_t *keys, int32_t *index,
				 uint64_t *tmp_keys, int32_t *tmp_index)
{
	uint64_t   *src_k = keys,
			   *dst_k = tmp_keys;
	int32_t    *src_i = index,
			   *dst_i = tmp_index;

	for (int shift = 0; shift < 64; shift += 8)
	{
		int64_t		count[257] = {0};
		int			used = 0;

		for (int64_t j = 0; j < n; j++)
			count[((src_k[j] >> shift) & 0xff) + 1]++;
		for (int b = 1; b <= 256; b++)
			used += count[b] != 0;
		if (used <= 1)
			continue;			/* digit constant across all keys: skip pass */
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (int64_t j = 0; j < n; j++)
		{
			int64_t		pos = count[(src_k[j] >> shift) & 0xff]++;

			dst_k[pos] = src_k[j];
			dst_i[pos] = src_i[j];
		}
		{
			uint64_t   *tk = src_k;
			int32_t    *ti = src_i;

			src_k = dst_k;
			dst_k = tk;
			src_i = dst_i;
			dst_i = ti;
		}
	}
	if (src_k != keys)
	{
		memcpy(keys, src_k, (size_t) n * sizeof(uint64_t));
		memcpy(index, src_i, (size_t) n * sizeof(int32_t));
	}
}

/*
 * The radix sort needs scratch space; the hash slots serve for it, since
 * they are rebuilt from the sorted ids afterwards anyway.  capacity >=
 * 2 * count guarantees room: slot_keys gives 2 * count uint64 (keys and
 * their scratch) and slot_index 2 * count int32.
 */
void
rs_idmap_sort(RsIdMap *map, int32_t *new_index)
{
	int64_t		n = map->count;
	uint64_t   *keys = (uint64_t *) map->slot_keys;
	uint64_t   *tmp_keys = keys + n;
	int32_t    *order = map->slot_index;
	int32_t    *tmp_order = order + n;

	for (int64_t j = 0; j < n; j++)
	{
		keys[j] = (uint64_t) map->ids[j] ^ UINT64_C(0x8000000000000000);
		order[j] = (int32_t) j;
	}
	radix_sort_pairs(n, keys, order, tmp_keys, tmp_order);
	for (int64_t j = 0; j < n; j++)
	{
		new_index[order[j]] = (int32_t) j;
		map->ids[j] = (int64_t) (keys[j] ^ UINT64_C(0x8000000000000000));
	}

	memset(map->slot_index, 0xff, (size_t) map->capacity * sizeof(int32_t));
	for (int32_t j = 0; j < map->count; j++)
		idmap_place(map, map->ids[j], j);
}

/* Entries one thread takes at a time: a few milliseconds of work. */
#define REMAP_GRAB (1 << 20)

typedef struct RemapShared
{
	const int32_t *in;
	const int32_t *map;
	int32_t    *out;
	int64_t		n;
	int64_t		next;
} RemapShared;

static void *
remap_worker(void *arg)
{
	RemapShared *shared = *(RemapShared **) arg;
	int64_t		begin,
				end;

	while (rs_threads_grab(&shared->next, REMAP_GRAB, shared->n, &begin, &end))
		for (int64_t j = begin; j < end; j++)
			shared->out[j] = shared->map[shared->in[j]];
	return NULL;
}

int
rs_index_remap(const int32_t *in, const int32_t *map, int32_t *out, int64_t n, int nthreads)
{
	RemapShared shared = {in, map, out, n, 0};
	RemapShared *args[RS_THREADS_MAX];
	int64_t		chunks = (n + REMAP_GRAB - 1) / REMAP_GRAB;

	if (nthreads > chunks)
		nthreads = (int) chunks;
	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if (nthreads < 1)
		nthreads = 1;
	for (int t = 0; t < nthreads; t++)
		args[t] = &shared;
	return rs_threads_run(nthreads, remap_worker, args, sizeof(RemapShared *));
}
