#!/usr/bin/env bash
# test/demo.sh: recsys end to end on a generated shop.
#
#   bash test/demo.sh [EVENTS]        (default 20000 events)
#
# Installs what is missing (as root), builds and installs recsys, starts a
# scratch cluster, generates and loads a small shop, then shows what recsys
# makes of it.  The cluster is stopped and removed at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
events=${1:-20000}

recsys_install_deps
recsys_build
recsys_start_cluster

log "loading a generated shop with $events events"
bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42

recsys_psql <<'SQL'
CREATE EXTENSION recsys;

-- What a shop trains on: one row per (user, product) signal, purchases
-- weighing most.  Any table or view with an id pair (and a weight) works.
CREATE VIEW shop.interactions AS
SELECT user_id, product_id AS item_id,
	   CASE kind WHEN 'purchase' THEN 5 WHEN 'cart' THEN 2 ELSE 1 END AS weight
FROM shop.events;

\echo
\echo 'The shop:'
SELECT (SELECT count(*) FROM shop.products) AS products,
	   (SELECT count(*) FROM shop.users) AS users,
	   (SELECT count(*) FROM shop.events) AS events,
	   (SELECT count(*) FROM shop.events WHERE kind = 'purchase') AS purchases;

\echo 'What recsys reads from it (recsys.source_stats):'
SELECT users, items, interactions, rows_read, skipped_rows,
	   round(density::numeric, 4) AS density, min_weight, max_weight
FROM recsys.source_stats('shop.interactions', weight_col => 'weight');

\echo 'Training implicit ALS on it (recsys.train_cf):'
SELECT name, algorithm, n_users, n_items, n_interactions, round(train_seconds::numeric, 3) AS seconds
FROM recsys.train_cf('shop.interactions', factors => 32, weight_col => 'weight');

-- two of the most active buyers
SELECT string_agg(user_id::text, ',') AS demo_users FROM (
	SELECT user_id FROM shop.events WHERE kind = 'purchase'
	GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 2) u \gset

\echo
\echo 'Recent purchases and top recommendations of two customers:'
SELECT u.user_id, x.kind, x.rank, p.title, p.category, p.price
FROM unnest(string_to_array(:'demo_users', ',')::bigint[]) AS u(user_id)
CROSS JOIN LATERAL (
	(SELECT 'bought' AS kind, row_number() OVER (ORDER BY max(e.ts) DESC) AS rank, e.product_id
	 FROM shop.events e WHERE e.user_id = u.user_id AND e.kind = 'purchase'
	 GROUP BY e.product_id ORDER BY max(e.ts) DESC LIMIT 3)
	UNION ALL
	(SELECT 'recommended', ordinality, r.item_id
	 FROM recsys.recommend(u.user_id, 5) WITH ORDINALITY r)
) x
JOIN shop.products p ON p.product_id = x.product_id
ORDER BY u.user_id, x.kind, x.rank;

SELECT product_id AS demo_product, title AS demo_title FROM shop.products
WHERE product_id = (SELECT product_id FROM shop.events WHERE kind = 'purchase'
					GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1) \gset
\echo 'Products similar to the best seller,' :'demo_title' '(recsys.similar_items):'
SELECT p.title, p.category, p.price, round(s.score::numeric, 3) AS similarity
FROM recsys.similar_items(:demo_product, 5) s JOIN shop.products p ON p.product_id = s.item_id
ORDER BY s.score DESC;

-- the first demo customer buys three products of a category they never
-- touched; refresh_user folds that into their vector without retraining
SELECT split_part(:'demo_users', ',', 1)::bigint AS demo_user \gset
SELECT category AS new_category FROM shop.products
WHERE category NOT IN (SELECT p.category FROM shop.events e JOIN shop.products p USING (product_id)
					   WHERE e.user_id = :demo_user)
GROUP BY category ORDER BY count(*) DESC, category LIMIT 1 \gset
\echo 'Customer' :demo_user 'buys three' :'new_category' 'products; recommendations before and after recsys.refresh_user:'
CREATE TEMP TABLE before AS
SELECT ordinality AS rank, item_id FROM recsys.recommend(:demo_user, 5) WITH ORDINALITY;
INSERT INTO shop.events
SELECT :demo_user, product_id, kind, now()
FROM (SELECT product_id FROM shop.products WHERE category = :'new_category'
	  ORDER BY product_id LIMIT 3) p, (VALUES ('view'), ('cart'), ('purchase')) k(kind);
SELECT array_length(recsys.refresh_user(:demo_user), 1) AS refreshed_factors;
SELECT b.rank, pb.title || ' (' || pb.category || ')' AS before,
	   pa.title || ' (' || pa.category || ')' AS after
FROM before b
JOIN recsys.recommend(:demo_user, 5) WITH ORDINALITY a ON a.ordinality = b.rank
JOIN shop.products pb ON pb.product_id = b.item_id
JOIN shop.products pa ON pa.product_id = a.item_id
ORDER BY b.rank;
SQL
log "demo finished"
