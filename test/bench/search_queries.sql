-- test/bench/search_queries.sql: the search benchmarks' workload, table
-- bench_q (n, query, user_id): :queries queries of two words of a random
-- title of shop.products ("<adjective> <noun>"), each with a random user
-- of shop.users (psql -v queries=N -f search_queries.sql).
SELECT setseed(0.42);
CREATE TABLE bench_q AS
SELECT n, (SELECT lower(split_part(p.title, ' ', 2) || ' ' || split_part(p.title, ' ', 3))
		   FROM shop.products p WHERE n > 0	-- (correlated: one draw per row)
		   OFFSET floor(random() * (SELECT count(*) FROM shop.products)) LIMIT 1) AS query,
	   (SELECT u.user_id FROM shop.users u WHERE n > 0
		OFFSET floor(random() * (SELECT count(*) FROM shop.users)) LIMIT 1) AS user_id
FROM generate_series(1, :queries) n;
