/*-------------------------------------------------------------------------
 *
 * idmap.h
 *		Map arbitrary bigint ids to dense 0-based indexes.
 *
 * An open-addressing hash table that hands out indexes in order of first
 * appearance while a source streams in, then renumbers them in ascending
 * id order, so that the dense numbering (and so everything trained on it)
 * does not depend on the order in which the rows were read.
 *
 * Plain C.  The caller allocates the table's memory (rs_idmap_bytes) and
 * grows it: when rs_idmap_full() says so, allocate a table of twice the
 * capacity and move the entries over with rs_idmap_rehash().
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_IDMAP_H
#define RECSYS_KERNEL_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct RsIdMap
{
	int64_t		capacity;		/* hash slots, a power of two */
	int			shift;			/* 64 - log2(capacity) */
	int32_t		count;			/* distinct ids so far */
	int64_t    *slot_keys;		/* capacity ids */
	int32_t    *slot_index;		/* capacity indexes, -1 = empty slot */
	int64_t    *ids;			/* index -> id, capacity / 2 entries */
} RsIdMap;

/* The most distinct ids one map holds: dense indexes are int32. */
#define RS_IDMAP_MAX_IDS INT32_MAX

/* Bytes of memory a map of the given capacity (a power of two) needs. */
extern size_t rs_idmap_bytes(int64_t capacity);

/* Set up an empty map in buf, which holds rs_idmap_bytes(capacity). */
extern void rs_idmap_init(RsIdMap *map, void *buf, int64_t capacity);

/* True when the map must grow before the next insert. */
static inline int
rs_idmap_full(const RsIdMap *map)
{
	return (int64_t) map->count >= map->capacity / 2;
}

/* Move every entry of from into the empty, larger map to. */
extern void rs_idmap_rehash(const RsIdMap *from, RsIdMap *to);

/*
 * Return the index of id, adding it if new.  The map must not be full.
 */
extern int32_t rs_idmap_insert(RsIdMap *map, int64_t id);

/*
 * rs_idmap_insert for ids[0 .. n) in order, writing their indexes: the
 * same numbering, but the slots of the ids a few places ahead are
 * prefetched, so the cache misses of a map larger than the cache overlap
 * instead of coming one after the other.  Stops when the map must grow
 * and returns how many ids it took (n when all).
 */
extern int64_t rs_idmap_insert_many(RsIdMap *map, const int64_t *ids,
									int32_t *indexes, int64_t n);

/* Return the index of id, or -1 if the map does not hold it. */
extern int32_t rs_idmap_lookup(const RsIdMap *map, int64_t id);

/*
 * Renumber the map in ascending id order.  new_index must hold count
 * entries: on return new_index[old] is the new index of the id that had
 * index old, ids[] is sorted, and lookups return the new indexes.
 */
extern void rs_idmap_sort(RsIdMap *map, int32_t *new_index);

/*
 * out[j] = map[in[j]] for j in [0, n), on up to nthreads threads (in may
 * be out): renumbering indexes, after rs_idmap_sort or when merging maps.
 * Returns RS_THREADS_OK, or RS_THREADS_ERR_CREATE when a thread could not
 * be created (every entry is written all the same).
 */
extern int	rs_index_remap(const int32_t *in, const int32_t *map, int32_t *out,
						   int64_t n, int nthreads);

#endif							/* RECSYS_KERNEL_IDMAP_H */
