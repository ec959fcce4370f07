-- shop_eval.sql - is the demo shop learnable?  Leave-last-purchase-out
-- hit-rate@10 of three trivial predictors on the loaded shop.* tables:
--   random                  10 random products
--   popular overall         10 most interacted-with products
--   popular in top category 10 most popular products of the category the
--                           user viewed most (padded with popular overall)
-- Sessions are rebuilt from 30-minute gaps; the held-out purchase's whole
-- session and everything after it is hidden from that user's history.
-- Usage: psql -X -f test/tools/shop_eval.sql   (only temp tables are made)

\set ON_ERROR_STOP 1
SELECT setseed(0.42) AS seeded \gset

CREATE TEMP TABLE eval_sessions AS
SELECT user_id, product_id, kind, ts,
       min(ts) OVER (PARTITION BY user_id, session_no) AS session_start
FROM (SELECT s.*, sum(is_new) OVER (PARTITION BY user_id ORDER BY ts) AS session_no
      FROM (SELECT e.*,
                   CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts)
                             <= interval '30 minutes' THEN 0 ELSE 1 END AS is_new
            FROM shop.events e) s) s;

CREATE TEMP TABLE eval_holdout AS
SELECT DISTINCT ON (user_id) user_id, product_id, session_start
FROM eval_sessions
WHERE kind = 'purchase'
ORDER BY user_id, ts DESC, product_id;

CREATE TEMP TABLE eval_train AS
SELECT s.user_id, s.product_id, s.kind
FROM eval_sessions s LEFT JOIN eval_holdout h USING (user_id)
WHERE h.user_id IS NULL OR s.ts < h.session_start;

CREATE TEMP TABLE eval_popularity AS
SELECT p.product_id, p.category, count(t.product_id) AS n
FROM shop.products p LEFT JOIN eval_train t USING (product_id)
GROUP BY p.product_id, p.category;

CREATE TEMP TABLE eval_user_category AS
SELECT DISTINCT ON (t.user_id) t.user_id, p.category
FROM eval_train t JOIN shop.products p USING (product_id)
WHERE t.kind = 'view'
GROUP BY t.user_id, p.category
ORDER BY t.user_id, count(*) DESC, p.category;

-- Top-10 list of each category, padded with the overall most popular.
CREATE TEMP TABLE eval_category_top AS
SELECT c.category,
       ARRAY(SELECT r.product_id FROM eval_popularity r
             ORDER BY r.category = c.category DESC, r.n DESC, r.product_id
             LIMIT 10) AS top
FROM (SELECT DISTINCT category FROM shop.products) c;

WITH popular AS (
    SELECT array_agg(product_id ORDER BY n DESC, product_id) AS top
    FROM (SELECT product_id, n FROM eval_popularity ORDER BY n DESC, product_id LIMIT 10) s
), per_user AS (
    SELECT h.user_id,
           h.product_id = ANY (ARRAY(SELECT product_id FROM eval_popularity
                                     WHERE h.user_id IS NOT NULL   -- re-run per user
                                     ORDER BY random() LIMIT 10)) AS hit_random,
           h.product_id = ANY (popular.top) AS hit_popular,
           h.product_id = ANY (ct.top) AS hit_category
    FROM eval_holdout h
         JOIN eval_user_category uc USING (user_id)
         JOIN eval_category_top ct USING (category)
         CROSS JOIN popular
)
SELECT (SELECT count(*) FROM shop.products) AS products,
       count(*) AS users_evaluated,
       round(10.0 / (SELECT count(*) FROM shop.products), 3) AS random_expected,
       round(avg(hit_random::int), 3) AS random,
       round(avg(hit_popular::int), 3) AS popular_overall,
       round(avg(hit_category::int), 3) AS popular_in_top_category
FROM per_user;
