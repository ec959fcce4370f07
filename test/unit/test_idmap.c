/*
 * test_idmap.c
 *		Unit tests of src/kernel/idmap.c: dense numbering of bigint ids.
 */
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "unit.h"

/* Grow a map the way the PostgreSQL glue does. */
static void
grow(RsIdMap *map)
{
	RsIdMap		bigger;

	rs_idmap_init(&bigger, malloc(rs_idmap_bytes(map->capacity * 2)), map->capacity * 2);
	rs_idmap_rehash(map, &bigger);
	free(map->slot_keys);
	*map = bigger;
}

UNIT_TEST(idmap_numbers_by_first_appearance_then_sorts)
{
	int64_t		ids[] = {500, -3, 7, 500, INT64_MIN, INT64_MAX, 7, 0};
	int32_t		first[8];
	int32_t		new_index[6];
	RsIdMap		map;

	rs_idmap_init(&map, malloc(rs_idmap_bytes(4)), 4);
	for (int i = 0; i < 8; i++)
	{
		if (rs_idmap_full(&map))
			grow(&map);
		first[i] = rs_idmap_insert(&map, ids[i]);
	}
	UNIT_CHECK(map.count == 6);
	UNIT_CHECK(first[0] == 0 && first[1] == 1 && first[2] == 2 && first[3] == 0);
	UNIT_CHECK(first[6] == 2 && first[7] == 5);
	UNIT_CHECK(rs_idmap_lookup(&map, 12345) == -1);

	rs_idmap_sort(&map, new_index);
	/* sorted: INT64_MIN, -3, 0, 7, 500, INT64_MAX */
	UNIT_CHECK(map.ids[0] == INT64_MIN && map.ids[1] == -3 && map.ids[2] == 0);
	UNIT_CHECK(map.ids[3] == 7 && map.ids[4] == 500 && map.ids[5] == INT64_MAX);
	UNIT_CHECK(new_index[0] == 4);	/* 500 */
	UNIT_CHECK(new_index[1] == 1);	/* -3 */
	UNIT_CHECK(new_index[3] == 0);	/* INT64_MIN */
	UNIT_CHECK(rs_idmap_lookup(&map, 500) == 4);
	UNIT_CHECK(rs_idmap_lookup(&map, INT64_MAX) == 5);
	UNIT_CHECK(rs_idmap_lookup(&map, 8) == -1);
	free(map.slot_keys);
}

UNIT_TEST(idmap_many_ids_survive_growth_and_sort)
{
	enum
	{
		N = 100000
	};
	RsIdMap		map;
	int32_t    *new_index = malloc(sizeof(int32_t) * N);
	int			ok = 1;

	rs_idmap_init(&map, malloc(rs_idmap_bytes(2)), 2);
	/* ids in a scrambled order, each inserted twice */
	for (int pass = 0; pass < 2; pass++)
		for (int64_t i = 0; i < N; i++)
		{
			int64_t		id = ((i * 7919) % N) * 1000003 - 50000000;

			if (rs_idmap_full(&map))
				grow(&map);
			rs_idmap_insert(&map, id);
		}
	UNIT_CHECK(map.count == N);
	rs_idmap_sort(&map, new_index);
	for (int64_t i = 1; i < N; i++)
		ok &= map.ids[i - 1] < map.ids[i];
	for (int64_t i = 0; i < N; i++)
		ok &= rs_idmap_lookup(&map, map.ids[i]) == i;
	UNIT_CHECK(ok);
	free(map.slot_keys);
	free(new_index);
}

/*
 * rs_idmap_insert_many numbers ids exactly as rs_idmap_insert one by one,
 * stopping where the map must grow (from a map of 2 slots, so it stops
 * often), with repeated and negative ids in a scrambled order.
 */
UNIT_TEST(idmap_insert_many_equals_one_by_one)
{
	enum
	{
		N = 20000
	};
	int64_t    *ids = malloc(sizeof(int64_t) * N);
	int32_t    *one = malloc(sizeof(int32_t) * N);
	int32_t    *many = malloc(sizeof(int32_t) * N);
	RsIdMap		a,
				b;
	int64_t		done = 0;
	int			stops = 0;
	int			ok = 1;

	for (int64_t i = 0; i < N; i++)
		ids[i] = ((i * 7919) % 3001) * 1000003 - 1500000000;
	rs_idmap_init(&a, malloc(rs_idmap_bytes(2)), 2);
	for (int64_t i = 0; i < N; i++)
	{
		if (rs_idmap_full(&a))
			grow(&a);
		one[i] = rs_idmap_insert(&a, ids[i]);
	}
	rs_idmap_init(&b, malloc(rs_idmap_bytes(2)), 2);
	while (done < N)
	{
		int64_t		took = rs_idmap_insert_many(&b, ids + done, many + done, N - done);

		done += took;
		if (done < N)
		{
			ok &= rs_idmap_full(&b);
			grow(&b);
			stops++;
		}
	}
	UNIT_CHECK(ok);
	UNIT_CHECK(stops > 5);
	UNIT_CHECK(a.count == 3001 && b.count == 3001);
	for (int64_t i = 0; i < N; i++)
		ok &= one[i] == many[i];
	UNIT_CHECK(ok);
	free(a.slot_keys);
	free(b.slot_keys);
	free(ids);
	free(one);
	free(many);
}

/*
 * rs_index_remap gives the plain loop's result whatever the thread count,
 * into another array and in place, over several grabs of entries.
 */
UNIT_TEST(index_remap_equals_loop)
{
	enum
	{
		N = 3 * (1 << 20) + 12345, M = 70000
	};
	int32_t    *in = malloc(sizeof(int32_t) * N);
	int32_t    *map = malloc(sizeof(int32_t) * M);
	int32_t    *expect = malloc(sizeof(int32_t) * N);
	int32_t    *out = malloc(sizeof(int32_t) * N);
	unsigned	seed = 3;
	static const int threads[] = {1, 2, 3, 8, 100};

	for (int i = 0; i < M; i++)
	{
		seed = seed * 1103515245u + 12345u;
		map[i] = (int32_t) (seed >> 4);
	}
	for (int j = 0; j < N; j++)
	{
		seed = seed * 1103515245u + 12345u;
		in[j] = (int32_t) ((seed >> 8) % M);
		expect[j] = map[in[j]];
	}
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++)
	{
		memset(out, 0, sizeof(int32_t) * N);
		UNIT_CHECK(rs_index_remap(in, map, out, N, threads[t]) == 0);
		UNIT_CHECK(memcmp(out, expect, sizeof(int32_t) * N) == 0);
	}
	/* in place */
	memcpy(out, in, sizeof(int32_t) * N);
	UNIT_CHECK(rs_index_remap(out, map, out, N, 2) == 0);
	UNIT_CHECK(memcmp(out, expect, sizeof(int32_t) * N) == 0);
	/* nothing to do */
	UNIT_CHECK(rs_index_remap(in, map, out, 0, 2) == 0);
	free(in);
	free(map);
	free(expect);
	free(out);
}
