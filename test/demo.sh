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

\echo 'Best-selling products:'
SELECT p.title, p.category, p.price, count(*) AS purchases
FROM shop.events e JOIN shop.products p USING (product_id)
WHERE e.kind = 'purchase'
GROUP BY p.product_id ORDER BY purchases DESC, p.product_id LIMIT 5;
SQL
log "demo finished"
