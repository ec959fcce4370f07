-- What Citus needs of recsys, tested without Citus (doc/operations.md,
-- "Running on Citus"): recommend_ids, a scalar recommend that a distributed
-- planner pushes down, and a fold_in state that does not depend on the
-- model, so worker partials and a coordinator combine need the model on
-- the coordinator only.
CREATE SCHEMA cit;
SET search_path = cit, public;
SET extra_float_digits = 0;

-- users 1-10 like items 100-109, 11-20 items 110-119, 21-30 items 120-129;
-- each misses one item of their block
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + (u + j) % 3 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'cit_als', iterations => 10, seed => 7);
SELECT (recsys.train_item_knn('events', 5, model => 'cit_knn')).n_items;

-- recommend_ids: recommend's item ids in recommend's order, for every
-- user, with and without exclude_seen, and for a user the model does not
-- know (cold start); by construction user 3's best unseen item is 103
SELECT recsys.recommend_ids(3, 1, 'cit_als') AS first_for_3;
SELECT count(*) AS users_checked,
	   count(*) FILTER (WHERE recsys.recommend_ids(u, 7, m, ex) =
						ARRAY(SELECT r.item_id FROM recsys.recommend(u, 7, m, ex) r)) AS same_as_recommend
FROM generate_series(0, 31) u, unnest('{cit_als,cit_knn}'::text[]) m, unnest('{true,false}'::boolean[]) ex;
-- more than the catalog: every item once; with exclude_seen the 9 seen go
SELECT cardinality(recsys.recommend_ids(3, 1000, 'cit_als', false)) AS all_items,
	   cardinality(recsys.recommend_ids(3, 1000, 'cit_als')) AS unseen;
-- the defaults: k 10, model 'default', exclude_seen
SELECT cardinality(recsys.recommend_ids(3, model => 'cit_als')) AS default_k;
SELECT recsys.recommend_ids(3);
-- the errors are recommend's
SELECT recsys.recommend_ids(NULL, 10, 'cit_als');
SELECT recsys.recommend_ids(3, 0, 'cit_als');
SELECT recsys.recommend_ids(3, NULL, 'cit_als');
SELECT recsys.recommend_ids(3, 10, NULL);
SELECT recsys.recommend_ids(3, 10, 'cit_als', NULL);
SELECT recsys.recommend_ids(3, 10, 'cit_nope');
-- a scalar: callable per row in a target list, and STABLE, PARALLEL SAFE
SELECT u, recsys.recommend_ids(u, 2, 'cit_als') FROM generate_series(1, 21, 10) u ORDER BY u;
SELECT provolatile, proparallel, proretset FROM pg_proc WHERE oid = 'recsys.recommend_ids'::regproc;

-- recommend_ids reads the model as recommend does: a role granted nothing
-- on a model gets recommend's error, a granted role gets recommend's ids;
-- fold_in's final function checks the model for the caller likewise
CREATE ROLE regress_recsys_cit_owner;
CREATE ROLE regress_recsys_cit_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_cit_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_cit_other;
GRANT USAGE ON SCHEMA cit TO regress_recsys_cit_owner, regress_recsys_cit_other;
GRANT SELECT ON events TO regress_recsys_cit_owner;
SET ROLE regress_recsys_cit_owner;
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'cit_owned', iterations => 3, seed => 7);
SET ROLE regress_recsys_cit_other;
SELECT recsys.recommend_ids(3, 5, 'cit_owned');
SELECT * FROM recsys.recommend(3, 5, 'cit_owned');
SELECT recsys.fold_in(item_id, 1, 'cit_owned') FROM (VALUES (101::bigint)) v(item_id);
RESET ROLE;
SELECT recsys.grant_model('cit_owned', 'regress_recsys_cit_other');
SET ROLE regress_recsys_cit_other;
SELECT recsys.recommend_ids(3, 5, 'cit_owned', false) =
	   ARRAY(SELECT r.item_id FROM recsys.recommend(3, 5, 'cit_owned', false) r) AS granted_same;
RESET ROLE;

-- fold_in: the transition and combine functions never read the model, so
-- a partial aggregate (a Citus worker's) runs where the model does not
-- exist; only the final function (the coordinator's) needs it.  Partial
-- states are built here with the support functions as a user-defined
-- aggregate without a final function, for a model not trained yet.
CREATE AGGREGATE partial_fold_in(bigint, real, text) (
	SFUNC = recsys.fold_in_accum, STYPE = bytea, COMBINEFUNC = recsys.fold_in_combine, PARALLEL = SAFE);
CREATE AGGREGATE combine_states(bytea) (SFUNC = recsys.fold_in_combine, STYPE = bytea);
CREATE AGGREGATE combine_final(bytea) (
	SFUNC = recsys.fold_in_combine, STYPE = bytea, FINALFUNC = recsys.fold_in_final);
-- two "workers": each user's even items on one, odd items on the other,
-- and an item 999 the model will not know on both
CREATE TABLE partials AS
SELECT part, user_id, partial_fold_in(item_id, w::real, 'cit_later') AS st
FROM (SELECT user_id, item_id, w, 1 + item_id % 2 AS part FROM events
	  UNION ALL SELECT u, 999, 5, 1 FROM generate_series(1, 30) u
	  UNION ALL SELECT u, 999, 3, 2 FROM generate_series(1, 30) u) e
GROUP BY part, user_id;
SELECT count(*) AS partial_states FROM partials;
-- now the model exists (the coordinator's): trained as cit_als was
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'cit_later', iterations => 10, seed => 7);
-- the combine of the partials equals the one-phase aggregate bit for bit
SELECT count(*) AS users,
	   count(*) FILTER (WHERE c.v = f.v) AS bit_equal
FROM (SELECT user_id, combine_final(st ORDER BY part) AS v FROM partials GROUP BY user_id) c
JOIN (SELECT user_id, recsys.fold_in(item_id, w::real, 'cit_later') AS v FROM events GROUP BY user_id) f
USING (user_id);
-- and cit_later's vectors are cit_als's (same data, same seed)
SELECT count(*) FILTER (WHERE a.v = b.v) AS same_model_same_vectors
FROM (SELECT user_id, recsys.fold_in(item_id, w::real, 'cit_als') AS v FROM events GROUP BY user_id) a
JOIN (SELECT user_id, recsys.fold_in(item_id, w::real, 'cit_later') AS v FROM events GROUP BY user_id) b
USING (user_id);

-- The combine function is associative, and commutative (the merge sums
-- each item in the same order whichever way): three partial states of
-- one user with overlapping items, combined in every grouping and order,
-- give the same state byte for byte.  Weights are powers of two, so
-- their sums are exact whatever the order.
CREATE TABLE three AS
SELECT p, partial_fold_in(item_id, w, 'cit_als') AS st
FROM (VALUES (1, 100::bigint, 1::real), (1, 101, 2), (1, 105, 0.5),
			 (2, 101, 4), (2, 102, 8), (2, 999, 1),
			 (3, 100, 0.25), (3, 102, 16), (3, 109, 32)) v(p, item_id, w)
GROUP BY p;
SELECT count(DISTINCT st) AS distinct_states, count(*) AS groupings FROM (
	SELECT combine_states(s ORDER BY o) AS st
	FROM (SELECT o, x.st AS s, perm FROM (VALUES (1, '{1,2,3}'::int[]), (2, '{1,3,2}'), (3, '{2,1,3}'),
											 (4, '{2,3,1}'), (5, '{3,1,2}'), (6, '{3,2,1}')) q(perm, ord),
			   unnest(ord) WITH ORDINALITY AS u(p, o) JOIN three x USING (p)) y
	GROUP BY perm
	UNION ALL
	-- (a + b) + c and a + (b + c), by combining combined states
	SELECT combine_states(s ORDER BY o) FROM (
		SELECT 1 AS o, (SELECT combine_states(st ORDER BY p) FROM three WHERE p IN (1, 2)) AS s
		UNION ALL SELECT 2, st FROM three WHERE p = 3) l
	UNION ALL
	SELECT combine_states(s ORDER BY o) FROM (
		SELECT 1 AS o, st AS s FROM three WHERE p = 1
		UNION ALL SELECT 2, (SELECT combine_states(st ORDER BY p) FROM three WHERE p IN (2, 3))) r) g;
-- and all of them solve to the aggregate's vector over the nine rows
SELECT recsys.fold_in_final((SELECT combine_states(st ORDER BY p DESC) FROM three)) =
	   (SELECT recsys.fold_in(item_id, w, 'cit_als')
		FROM (VALUES (100::bigint, 1::real), (101, 2), (105, 0.5), (101, 4), (102, 8), (999, 1),
					 (100, 0.25), (102, 16), (109, 32)) v(item_id, w)) AS same_vector;
-- states of two models do not combine
SELECT combine_states(st) FROM (SELECT st FROM three WHERE p = 1
	UNION ALL SELECT partial_fold_in(100, 1, 'cit_knn')) s;

-- The two-phase split under a parallel plan: partial aggregates in the
-- workers, combined in the leader, equal to the serial plan bit for bit.
CREATE TABLE big AS
SELECT u % 50 AS user_id, (100 + (u * 7 + j * 13) % 30)::bigint AS item_id, ((1 + (u + j) % 5) / 3.0)::real AS w
FROM generate_series(1, 4000) u, generate_series(0, 9) j;
ANALYZE big;
CREATE TABLE ser AS
SELECT user_id, recsys.fold_in(item_id, w, 'cit_als') AS v FROM big GROUP BY user_id;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SET enable_hashagg = off;
EXPLAIN (COSTS OFF)
SELECT user_id, recsys.fold_in(item_id, w, 'cit_als') FROM big GROUP BY user_id;
EXPLAIN (COSTS OFF)
SELECT recsys.fold_in(item_id, w, 'cit_als') FROM big WHERE user_id = 7;
CREATE TABLE par AS
SELECT user_id, recsys.fold_in(item_id, w, 'cit_als') AS v FROM big GROUP BY user_id;
-- the weights (thirds) are not exact in real, so a parallel plan may sum
-- an item's weights in another order than the serial one: the vectors
-- agree to rounding; with weights exact in real they are bit-equal
SELECT count(*) AS users,
	   max((SELECT max(abs(a - b)) FROM unnest(p.v, s.v) x(a, b))) < 1e-4 AS within_rounding
FROM par p JOIN ser s USING (user_id);
UPDATE big SET w = 1 + (item_id + user_id) % 4;
CREATE TABLE par_exact AS
SELECT user_id, recsys.fold_in(item_id, w, 'cit_als') AS v FROM big GROUP BY user_id;
RESET ALL;
SET search_path = cit, public;
SELECT count(*) AS users, count(*) FILTER (WHERE p.v = s.v) AS bit_equal
FROM par_exact p
JOIN (SELECT user_id, recsys.fold_in(item_id, w, 'cit_als') AS v FROM big GROUP BY user_id) s USING (user_id);

-- recsys.sync_model copies a model to Citus workers: without Citus it
-- refuses with a hint, before looking at the model
SELECT * FROM recsys.sync_model('cit_als');
SELECT * FROM recsys.sync_model('no_such_model');
SELECT * FROM recsys.sync_model(NULL);
-- the tables a copy takes: every table referencing recsys.model_versions
SELECT recsys._model_artefact_tables();

-- _sync_model_receive (what each worker runs) with payloads built as
-- sync_model builds them: a blend's member, retrained and synced again,
-- keeps its recsys.models row (the blend names it; a DELETE of the row is
-- refused), gets the new version's rows only, and the blend still serves
CREATE FUNCTION payload(mname text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE m recsys.models; t text; part json; parts text[] := '{}';
BEGIN
	SELECT * INTO m FROM recsys.models x WHERE x.name = mname;
	FOR t IN SELECT recsys._model_artefact_tables() LOOP
		EXECUTE format('SELECT coalesce(json_agg(x), ''[]'') FROM recsys.%I x WHERE x.model = $1 AND x.version = $2', t)
			INTO part USING m.name, m.version;
		parts := parts || format('%s: %s', to_json(t), part);
	END LOOP;
	RETURN format('{"recsys_version": %s, "model": %s, "version": %s, "tables": {%s}}',
				  (SELECT to_json(e.extversion) FROM pg_extension e WHERE e.extname = 'recsys'), to_json(m),
				  (SELECT to_json(v) FROM recsys.model_versions v WHERE v.model = m.name AND v.version = m.version),
				  array_to_string(parts, ', '))::json;
END $$;
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'cit_member', iterations => 10, seed => 7);
SELECT name, algorithm FROM recsys.train_blend('{cit_member,cit_knn}', model => 'cit_blend');
CREATE TABLE payloads AS SELECT 1 AS v, payload('cit_member') AS p;
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'cit_member', iterations => 10, seed => 8);
INSERT INTO payloads SELECT 2, payload('cit_member');
CREATE TABLE served AS SELECT u, recsys.recommend_ids(u, 5, 'cit_blend') AS ids FROM generate_series(1, 30) u;
GRANT SELECT ON payloads TO regress_recsys_cit_other;
-- the node had version 1 (an earlier sync), then takes version 2
SELECT recsys._sync_model_receive(p) FROM payloads WHERE v = 1;
SELECT recsys._sync_model_receive(p) FROM payloads WHERE v = 2;
SELECT m.version, (SELECT array_agg(v.version) FROM recsys.model_versions v WHERE v.model = m.name) AS versions,
	   (SELECT count(*) FROM recsys.item_factors f WHERE f.model = m.name) AS item_rows,
	   m.trained_at = (p -> 'model' ->> 'trained_at')::timestamptz AS payload_row
FROM recsys.models m, payloads WHERE m.name = 'cit_member' AND v = 2;
-- the blend serves what it served over the retrained member before
SELECT count(*) AS users, count(*) FILTER (WHERE s.ids = n.ids) AS same_as_before
FROM served s JOIN (SELECT u, recsys.recommend_ids(u, 5, 'cit_blend') AS ids FROM generate_series(1, 30) u) n USING (u);
-- another role's copy is not replaced
SET ROLE regress_recsys_cit_other;
SELECT recsys._sync_model_receive(p) FROM cit.payloads WHERE v = 2;
RESET ROLE;
SET search_path = cit, public;
-- a forged version the next training could not follow (version + 1), or
-- a version row of another version, is refused
SELECT recsys._sync_model_receive(jsonb_set(p::jsonb, '{model,version}', '2147483647')::json) FROM payloads WHERE v = 2;
SELECT recsys._sync_model_receive(jsonb_set(p::jsonb, '{model,version}', '0')::json) FROM payloads WHERE v = 2;
SELECT recsys._sync_model_receive(jsonb_set(p::jsonb, '{version,version}', '1')::json) FROM payloads WHERE v = 2;
DELETE FROM recsys.models WHERE name = 'cit_blend';

DROP SCHEMA cit CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'cit\_%';
DROP OWNED BY regress_recsys_cit_owner, regress_recsys_cit_other;
DROP ROLE regress_recsys_cit_owner, regress_recsys_cit_other;
