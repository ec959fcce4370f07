-- Row estimates of the set-returning functions (src/planner_support.c):
-- a ranking's constant k, a split's source's rows; otherwise the ROWS of
-- the declaration.
CREATE FUNCTION plan_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
	RETURN (plan->0->'Plan'->>'Plan Rows')::float8::bigint;
END $$;

CREATE TABLE pe_ratings AS
SELECT u AS user_id, (u * 7 + j) % 500 AS item_id, 1 + j % 5 AS rating, j AS t
FROM generate_series(1, 2000) AS u, generate_series(1, 20) AS j;
ANALYZE pe_ratings;

-- rankings: k rows when k is a constant (the defaults included), else ROWS 10
SELECT plan_rows($$SELECT * FROM recsys.recommend(1, 25, 'm')$$) AS recommend_25,
       plan_rows($$SELECT * FROM recsys.recommend(1)$$) AS recommend_default,
       plan_rows($$SELECT * FROM recsys.similar_items(1, 3, 'm')$$) AS similar_3,
       plan_rows($$SELECT * FROM recsys.recommend_session(ARRAY[1, 2]::bigint[], 40, 'm')$$) AS session_40,
       plan_rows($$SELECT * FROM recsys.recommend_for_vector(ARRAY[1, 2]::real[], 7, 'm')$$) AS vector_7,
       plan_rows($$SELECT * FROM recsys.recommend(1, (SELECT 5), 'm')$$) AS recommend_not_constant;

-- k beyond the allowed maximum (10,000, refused when run): at most the
-- maximum, not 2^31 rows (which turned JIT on); recommend's constant
-- candidates: at most their number
SELECT plan_rows($$SELECT * FROM recsys.recommend(1, 2147483647, 'm')$$) AS recommend_huge_k,
       plan_rows($$SELECT * FROM recsys.similar_items(1, 100000, 'm')$$) AS similar_huge_k,
       plan_rows($$SELECT * FROM recsys.recommend(1, -5, 'm')$$) AS recommend_negative_k,
       plan_rows($$SELECT * FROM recsys.recommend(1, 50, 'm', candidates => '{1,2,3}')$$) AS three_candidates,
       plan_rows($$SELECT * FROM recsys.recommend(1, 2, 'm', candidates => '{1,2,3}')$$) AS k_below_candidates,
       plan_rows($$SELECT * FROM recsys.recommend(1, 50, 'm', candidates => '{}')$$) AS no_candidates,
       plan_rows($$SELECT * FROM recsys.recommend_session('{1,2,3}', 50, 'm')$$) AS session_not_candidates;
EXPLAIN (COSTS OFF) SELECT * FROM recsys.recommend(1, 2147483647, 'm') ORDER BY score;

-- splits: the source's rows (40,000), not 1,000
SELECT plan_rows($$SELECT * FROM recsys.split_holdout('pe_ratings')$$) AS holdout,
       plan_rows($$SELECT * FROM recsys.split_kfold('pe_ratings', 5)$$) AS kfold,
       plan_rows($$SELECT * FROM recsys.split_last('pe_ratings', 't', 2, 5)$$) AS last;

-- a table never analysed: the planner's estimate from its pages (about 40,000)
CREATE TABLE pe_fresh AS SELECT * FROM pe_ratings;
SELECT plan_rows($$SELECT * FROM recsys.split_holdout('pe_fresh')$$) BETWEEN 20000 AND 80000 AS from_pages;

-- the documented query shape (reference.md, splits): a hash join, not a
-- nested loop over an assumed 1,000 rows
EXPLAIN (COSTS OFF)
SELECT r.* FROM pe_ratings r JOIN recsys.split_holdout('pe_ratings') s USING (user_id, item_id)
WHERE NOT s.is_test;
-- and it runs: three quarters of the pairs of users with >= 4 train
SELECT count(*) FROM pe_ratings r JOIN recsys.split_holdout('pe_ratings') s USING (user_id, item_id)
WHERE NOT s.is_test;

DROP TABLE pe_ratings, pe_fresh;
DROP FUNCTION plan_rows(text);
