#!/usr/bin/env bash
# test/bench/event_weights.sh: event weights learned on validation data
# against equal weights and the demo's hand-written CASE weights, on the
# demo shop (test/tools/shopgen.c plants view -> cart -> purchase).
#
#   bash test/bench/event_weights.sh [EVENTS [MODELS]]   (defaults 100000, "als item_knn ease")
#
# Protocol (a time split, purchase target):
#   the shop's 180 days end 2026-11-01; valid = the purchases of
#   2026-10-02 .. 2026-10-17, test = those from 2026-10-17 on, each of an
#   item the user had no earlier event of (earlier items are excluded as
#   seen, so a repeat could not be hit), of users with earlier events;
#   a model for valid trains on every event (view, cart, purchase) before
#   2026-10-02, a model for test on every event before 2026-10-17.
#   Three weightings of the same events: equal (1, 1, 1), the demo's CASE
#   (view 1, cart 2, purchase 5: test/demo.sh, README), and the map tune
#   picks from a grid (RECSYS_EV_GRID; default view {0.5, 1, 2}, cart
#   {0, 1, 3}, purchase {0, 1, 5, 20}: 36 maps) by NDCG@10 on valid.  Each weighting is then trained on the test
#   training set and scored on test: nothing is chosen on test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
events=${1:-100000}
models=${2:-"als item_knn ease"}
# "view values; cart values; purchase values"
grid=${RECSYS_EV_GRID:-"0.5,1,2;0,1,3;0,1,5,20"}
IFS=';' read -r grid_view grid_cart grid_purchase <<<"$grid"

recsys_build
recsys_start_cluster
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys"
bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42

recsys_psql <<SQL
CREATE TABLE grid AS
SELECT jsonb_build_object('view', v, 'cart', c, 'purchase', p) AS w
FROM unnest('{$grid_view}'::real[]) v, unnest('{$grid_cart}'::real[]) c, unnest('{$grid_purchase}'::real[]) p
WHERE v > 0 OR c > 0 OR p > 0;
SQL
recsys_psql <<'SQL'
CREATE VIEW ev AS SELECT user_id, product_id AS item_id, kind, ts FROM shop.events;
CREATE TABLE train_v AS SELECT * FROM ev WHERE ts < '2026-10-02';
CREATE TABLE train_t AS SELECT * FROM ev WHERE ts < '2026-10-17';
CREATE TABLE valid AS
SELECT DISTINCT e.user_id, e.item_id FROM ev e
WHERE e.kind = 'purchase' AND e.ts >= '2026-10-02' AND e.ts < '2026-10-17'
  AND EXISTS (SELECT 1 FROM train_v t WHERE t.user_id = e.user_id)
  AND NOT EXISTS (SELECT 1 FROM train_v t WHERE t.user_id = e.user_id AND t.item_id = e.item_id);
CREATE TABLE test AS
SELECT DISTINCT e.user_id, e.item_id FROM ev e
WHERE e.kind = 'purchase' AND e.ts >= '2026-10-17'
  AND EXISTS (SELECT 1 FROM train_t t WHERE t.user_id = e.user_id)
  AND NOT EXISTS (SELECT 1 FROM train_t t WHERE t.user_id = e.user_id AND t.item_id = e.item_id);
CREATE INDEX ON train_v (user_id);
CREATE INDEX ON train_t (user_id);
ANALYZE train_v; ANALYZE train_t; ANALYZE valid; ANALYZE test;
CREATE TABLE results (model text, weighting text, weights jsonb, valid_ndcg float8,
					  test_ndcg float8, test_recall float8, test_hit float8);
SQL
recsys_psql -At -c "SELECT 'events ' || (SELECT count(*) FROM shop.events) || ', products ' || (SELECT count(*) FROM shop.products)
	|| ', users ' || (SELECT count(*) FROM shop.users) || '; train_v ' || (SELECT count(*) FROM train_v)
	|| ' rows, valid ' || (SELECT count(*) FROM valid) || ' purchases of ' || (SELECT count(DISTINCT user_id) FROM valid)
	|| ' users; train_t ' || (SELECT count(*) FROM train_t) || ' rows, test ' || (SELECT count(*) FROM test)
	|| ' purchases of ' || (SELECT count(DISTINCT user_id) FROM test) || ' users'"

# fixed settings per model (not tuned here: the event weights are)
fixed_for() {
	case $1 in
		als) echo '{"factors": 32, "iterations": 10, "alpha": 10, "regularization": 0.1}' ;;
		item_knn) echo '{"neighbors": 50}' ;;
		ease) echo '{"regularization": 200}' ;;
	esac
}

for m in $models; do
	fixed=$(fixed_for "$m")
	start=$(date +%s)
	recsys_psql -q <<SQL >/dev/null
-- valid: every map of the grid, then equal and CASE weights for the record
CREATE TEMP TABLE tuned AS
SELECT rank, params->'event_weights' AS w, value
FROM recsys.tune('$m', 'train_v', 'valid', (SELECT jsonb_build_object('event_weights', jsonb_agg(w)) FROM grid),
				 fixed => '$fixed'::jsonb || '{"event_col": "kind"}', model => 'tuned_$m');
INSERT INTO results (model, weighting, weights, valid_ndcg)
SELECT '$m', 'tuned', w, value FROM tuned WHERE rank = 1;
INSERT INTO results (model, weighting, weights, valid_ndcg)
SELECT '$m', x.name, x.w, (SELECT value FROM tuned t WHERE t.w = x.w)
FROM (VALUES ('equal', '{"view": 1, "cart": 1, "purchase": 1}'::jsonb),
			 ('case', '{"view": 1, "cart": 2, "purchase": 5}'::jsonb)) x(name, w);
-- the CASE map is not in the grid: score it on valid as tune would
UPDATE results r SET valid_ndcg = (
	SELECT value FROM recsys.tune('$m', 'train_v', 'valid', jsonb_build_object('event_weights', jsonb_build_array(r.weights)),
								  fixed => '$fixed'::jsonb || '{"event_col": "kind"}', model => 'case_$m'))
WHERE r.model = '$m' AND r.valid_ndcg IS NULL;
SQL
	# test: each weighting trained on train_t, scored once on test
	for weighting in equal case tuned; do
		recsys_psql -q <<SQL >/dev/null
SELECT 1 FROM recsys.tune('$m', 'train_t', 'test',
						  jsonb_build_object('event_weights', jsonb_build_array(
							  (SELECT weights FROM results WHERE model = '$m' AND weighting = '$weighting'))),
						  fixed => '$fixed'::jsonb || '{"event_col": "kind"}', model => 'test_$m', replace => true);
UPDATE results SET test_ndcg = e.ndcg, test_recall = e.recall, test_hit = e.hit
FROM (SELECT max(value) FILTER (WHERE metric = 'ndcg@10') AS ndcg, max(value) FILTER (WHERE metric = 'recall@10') AS recall,
			 max(value) FILTER (WHERE metric = 'hit_rate@10') AS hit
	  FROM recsys.evaluate('test_$m', 'test', 10)) e
WHERE model = '$m' AND weighting = '$weighting';
SQL
	done
	echo "$m: $(( $(date +%s) - start )) s" >&2
done

recsys_psql <<'SQL'
SELECT model, weighting, weights, round(valid_ndcg::numeric, 4) AS "valid NDCG@10",
	   round(test_ndcg::numeric, 4) AS "test NDCG@10", round(test_recall::numeric, 4) AS "test recall@10",
	   round(test_hit::numeric, 4) AS "test hit@10",
	   round((test_ndcg / NULLIF(first_value(test_ndcg) OVER (PARTITION BY model ORDER BY weighting = 'equal' DESC), 0))::numeric, 3) AS "vs equal",
	   round((test_ndcg / NULLIF(first_value(test_ndcg) OVER (PARTITION BY model ORDER BY weighting = 'case' DESC), 0))::numeric, 3) AS "vs CASE"
FROM results ORDER BY model, CASE weighting WHEN 'equal' THEN 0 WHEN 'case' THEN 1 ELSE 2 END;
SQL
