-- recsys 0.10.0 -> 0.11.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.11.0'" to load this file. \quit

-- 0.11.0: each change has a section of its own below (one per work stream).
-- A function changed by several sections ends as one copy equal to
-- sql/recsys.sql's (replace the earlier section's copy, do not add a second).

-------------------------------------------------------------------------------
-- Cold items: the cold re-ranker kind
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-- internal: _experiment_check_models' last check, alone (clean_orphans
-- asks it first: its error says why an orphaned experiment is skipped)
CREATE FUNCTION recsys._experiment_check_identities(e recsys.experiments, variants jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	-- a variant naming a model without its recorded owner and identity:
	-- the update from 0.9.0 marks (with JSON nulls) a variant whose model
	-- was missing then, as 0.9.0 let drop_model drop a model an experiment
	-- served; whatever has that name now may be another role's model
	-- (s9-fix2).  Otherwise a variant written past create_experiment and
	-- alter_experiment, which record them.  (Not the owner's OID: a restore
	-- into a cluster without the owner's role records none.)
	FOR m IN
		SELECT DISTINCT v ->> 'name' AS variant, u.name, u.created = 'null' AS marked
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v -> 'model_owner', v -> 'similarity_model_owner'],
					ARRAY[v -> 'model_created_at', v -> 'similarity_model_created_at']) u(name, owner, created)
		WHERE u.name IS NOT NULL
		  AND (jsonb_typeof(u.owner) IS DISTINCT FROM 'string' OR jsonb_typeof(u.created) IS DISTINCT FROM 'string')
		ORDER BY 1, 2
	LOOP
		RAISE EXCEPTION 'variant "%" of experiment "%" records no owner or identity of its model "%"',
			m.variant, e.name, m.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN m.marked
							   THEN 'The model was missing when recsys was updated to 0.10.0 (0.9.0 let drop_model drop '
									'a model an experiment served): a model of that name now may be another one.'
							   ELSE 'recsys.create_experiment and recsys.alter_experiment record them; these variants '
									'were written without them.' END,
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._experiment_check_identities(recsys.experiments, jsonb) IS
	'internal: refuse variants without the recorded owner and identity of their models';

-- internal: refuse (42501) to serve a variant naming a model (model,
-- similarity_model) that the experiment's owner may not use, as a blend
-- refuses a member its owner may not use: the owner reads every
-- impression, so an experiment must not show models its owner could not
-- query.  Checked at serving, whatever changed since the experiment was
-- created (a direct UPDATE, a revoked grant, a dropped model whose name
-- another role took).  A model the caller cannot see is left to recommend,
-- which refuses it.
CREATE OR REPLACE FUNCTION recsys._experiment_check_models(e recsys.experiments, variants jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = e.owner) THEN
		RAISE EXCEPTION 'permission denied to serve experiment "%": its owner (role OID %) was dropped',
			e.name, e.owner::oid
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A superuser can give it a new owner: UPDATE recsys.experiments SET owner = ...';
	END IF;
	-- a model of the name recorded at creation, another role's since: the
	-- model was dropped and its name taken (recorded since 0.10.0)
	FOR m IN
		SELECT DISTINCT x.name, u.owner AS recorded, pg_get_userbyid(x.owner) AS now
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v ->> 'model_owner', v ->> 'similarity_model_owner']) u(name, owner)
			 JOIN recsys.models x ON x.name = u.name
		WHERE u.owner IS NOT NULL AND u.owner IS DISTINCT FROM pg_get_userbyid(x.owner)
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'model "%" of experiment "%" changed owner since the experiment was created', m.name, e.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('It was owned by role "%s"; the model of that name now is role "%s"''s.',
								  m.recorded, m.now),
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
	-- a model of the name and owner recorded, but another one: dropped and
	-- trained again since (recorded since 0.10.0)
	FOR m IN
		SELECT DISTINCT x.name
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v ->> 'model_created_at', v ->> 'similarity_model_created_at']) u(name, created)
			 JOIN recsys.models x ON x.name = u.name
		WHERE u.created IS NOT NULL AND u.created::timestamptz IS DISTINCT FROM x.created_at
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'model "%" of experiment "%" was dropped and trained again since the experiment was given it',
			m.name, e.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The model of that name now is another model (recsys.models.created_at) than the one the variant names.',
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
	FOR m IN
		SELECT DISTINCT x.name, x.owner
		FROM jsonb_array_elements(variants) v, unnest(ARRAY[v ->> 'model', v ->> 'similarity_model']) u(name)
			 JOIN recsys.models x ON x.name = u.name
		-- (roles joined to pg_roles: a dropped role's OID is nobody's)
		WHERE NOT (EXISTS (SELECT FROM pg_roles r
						   WHERE r.oid = x.owner AND pg_has_role(e.owner::oid, r.oid, 'USAGE'))
				   OR EXISTS (SELECT FROM unnest(x.grantees) g LEFT JOIN pg_roles r ON r.oid = g::oid
							  WHERE g::oid = 0 OR pg_has_role(e.owner::oid, r.oid, 'USAGE')))
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'permission denied to serve model "%" in experiment "%": its owner, role %, may not use it',
			m.name, e.name, e.owner
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('The model''s owner (role %s) can grant its use to role %s: '
								'SELECT recsys.grant_model(%L, %L).', m.owner, e.owner, m.name, e.owner::text);
	END LOOP;
	-- (last, so that a model the owner may not use is refused as such)
	PERFORM recsys._experiment_check_identities(e, variants);
END
$$;
COMMENT ON FUNCTION recsys._experiment_check_models(recsys.experiments, jsonb) IS
	'internal: refuse variants whose models the experiment''s owner may not use';

-- internal: clean_orphans' report of an object it left as it was: the
-- check that refused its row, and what to do (a WARNING, so the objects
-- cleaned stay cleaned; recsys.orphans() still lists this one)
CREATE FUNCTION recsys._clean_orphans_skipped(kind text, name text, reason text, reason_hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE WARNING 'recsys.clean_orphans skipped % "%": %', kind, name, reason
		USING DETAIL = format('The %s keeps its owner and grantees; recsys.orphans() still lists it, '
							  'and pg_dump still refuses it.', kind),
			  HINT = reason_hint;
END
$$;
COMMENT ON FUNCTION recsys._clean_orphans_skipped(text, text, text, text) IS
	'internal: clean_orphans'' WARNING for an object whose row the checks refused';

-- Give every orphaned object to new_owner and remove the dropped grantees
-- (the DBA's clean-up after DROP ROLE, as REASSIGN OWNED / DROP OWNED are
-- for PostgreSQL's own objects).  Superusers only.  Returns what changed;
-- an object whose row the checks refuse (an experiment serving a model
-- its new owner may not use, a variant without the owner and identity of
-- its model) is left as it was, with a WARNING naming it, the reason and
-- the way out, and the others are cleaned (before, one such experiment
-- failed the whole call: s10-fix).
CREATE OR REPLACE FUNCTION recsys.clean_orphans(new_owner regrole)
RETURNS TABLE (kind text, name text, owner regrole, removed_roles oid[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o record;
	kept regrole[];
	given text[] := '{}';
	given_from oid[] := '{}';
	msg text;
	hint text;
BEGIN
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'permission denied for recsys.clean_orphans'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only superusers may give away objects whose owner was dropped.';
	END IF;
	IF new_owner IS NULL OR new_owner::oid = 0 OR NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = new_owner) THEN
		RAISE EXCEPTION 'new_owner must be an existing role'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- models first: an experiment's row is checked against its models'
	-- owners when it changes (review s8, fixr2 1)
	FOR o IN SELECT * FROM recsys.orphans() r ORDER BY r.kind <> 'model', r.kind, r.name LOOP
		removed_roles := o.dropped_roles;
		owner := CASE WHEN o.owner = ANY (o.dropped_roles) THEN new_owner ELSE o.owner::regrole END;
		kind := o.kind;
		name := o.name;
		BEGIN
			EXECUTE format('SELECT array(SELECT g FROM unnest(t.grantees) g WHERE g::oid <> ALL ($2)) '
						   'FROM recsys.%I t WHERE t.name = $1', o.kind || 's')
				INTO kept USING o.name, o.dropped_roles;
			IF o.kind = 'experiment' THEN
				-- (first: a variant without its model's identity is the reason
				-- even when the new owner may not use that name's model either)
				PERFORM recsys._experiment_check_identities(t, recsys._experiment_served(t))
				FROM recsys.experiments t WHERE t.name = o.name;
				-- its variants' recorded model owners move with the models, in
				-- the same UPDATE as its own owner (the row is checked once)
				UPDATE recsys.experiments t
				SET owner = clean_orphans.owner, grantees = kept,
					variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
				WHERE t.name = o.name;
			ELSE
				EXECUTE format('UPDATE recsys.%I t SET owner = $2, grantees = $3 WHERE t.name = $1', o.kind || 's')
					USING o.name, owner, kept;
			END IF;
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			-- (alter_experiment is its owner's, and the owner is gone)
			hint := CASE WHEN SQLSTATE = '55000' AND o.kind = 'experiment' AND o.owner = ANY (o.dropped_roles)
						 THEN 'Only its owner, a dropped role, could give it its variants again: keep its '
							  'results (recsys.experiment_results) and drop it with recsys.drop_experiment.'
						 ELSE coalesce(nullif(hint, '') || ' ', '')
							  || format('Then call recsys.clean_orphans again, or drop the %s.', o.kind) END;
			PERFORM recsys._clean_orphans_skipped(o.kind, o.name, msg, hint);
			CONTINUE;
		END;
		IF o.kind = 'model' AND o.owner = ANY (o.dropped_roles) THEN
			given := given || o.name;
			given_from := given_from || o.owner;
		END IF;
		RETURN NEXT;
	END LOOP;
	-- the other experiments that serve a model given away: their variants'
	-- recorded owner of it follows (returned with no role removed)
	FOR o IN
		SELECT t.name, t.owner FROM recsys.experiments t
		WHERE t.variants IS DISTINCT FROM recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
		ORDER BY t.name
	LOOP
		BEGIN
			UPDATE recsys.experiments t
			SET variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
			WHERE t.name = o.name;
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			PERFORM recsys._clean_orphans_skipped('experiment', o.name, msg,
												  coalesce(nullif(hint, '') || ' ', '')
												  || 'Then call recsys.clean_orphans again.');
			CONTINUE;
		END;
		kind := 'experiment';
		name := o.name;
		owner := o.owner;
		removed_roles := '{}';
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys.clean_orphans(regrole) IS
	'give the models, experiments and catalogs whose owner was dropped to new_owner, and remove dropped grantees';

-- A row inserted into recsys.models, recsys.experiments or recsys.catalogs
-- whose owner or a grantee is an OID no role has: a restore of a dump made
-- before 0.10.0 (whose pg_dump wrote a dropped role as its bare OID; the
-- dump holds no name to look the role up by) or a hand-made INSERT.
-- Refused (42704, naming the object and the OID), unless the restore names
-- the role to give such objects to: recsys.restore_orphans_to (a setting,
-- e.g. PGOPTIONS='-c recsys.restore_orphans_to=keeper' pg_restore ...),
-- as clean_orphans would (the dropped grantees are left out).  Trainers and
-- create_* insert the caller's own role: never refused.  (A bare OID that
-- some role of the restoring cluster happens to have cannot be told from
-- that role's name: doc/operations.md, "Backups".)
CREATE FUNCTION recsys._restored_roles_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone oid[] := recsys._dropped_roles(NEW.owner, NEW.grantees);
	kind text := rtrim(TG_TABLE_NAME, 's');
	heir regrole;
BEGIN
	IF gone IS NULL THEN
		RETURN NEW;
	END IF;
	heir := nullif(current_setting('recsys.restore_orphans_to', true), '')::regrole;
	IF heir IS NULL THEN
		RAISE EXCEPTION 'recsys % "%" names role OID % as its %, and no role has that OID', kind, NEW.name, gone[1],
			CASE WHEN NEW.owner::oid = gone[1] THEN 'owner' ELSE 'grantee' END
			USING ERRCODE = 'undefined_object',
				  DETAIL = 'A dump made before recsys 0.10.0 writes a role that was dropped as its bare OID, '
						   'which here would name whichever role has that OID.',
				  HINT = 'Restore with PGOPTIONS=''-c recsys.restore_orphans_to=<role>'' to give such objects to '
						 'that role (dropped grantees are left out), or run recsys.clean_orphans(new_owner) in '
						 'the dumped database and dump it again.';
	END IF;
	NEW.grantees := ARRAY(SELECT g FROM unnest(NEW.grantees) g WHERE g::oid <> ALL (gone));
	IF NEW.owner::oid = ANY (gone) THEN
		NEW.owner := heir;
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: given to role %', kind, NEW.name, gone, heir
			USING DETAIL = 'recsys.restore_orphans_to names the role to give such objects to; grantee OIDs no role has are left out.';
	ELSE
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: left out of its grantees', kind, NEW.name, gone;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._restored_roles_check() IS
	'internal: refuse (or give to recsys.restore_orphans_to) an inserted object whose owner or grantee OID names no role';

CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.models
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.experiments
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.catalogs
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();

-- internal: a catalog's ranking weights as search reads them (an owner
-- may edit the row; tune_search writes them), checked: "personal" and
-- "anonymous" objects whose values are JSON numbers of at most 1e6 in
-- magnitude.  Else damage (XX001), not a cast's error or NaN scores
-- ranked silently (a string "NaN" cast to real).
CREATE FUNCTION recsys._catalog_weights(catalog text, weights jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad text;
BEGIN
	SELECT s.k || coalesce('.' || e.key, '') INTO bad
	FROM unnest(ARRAY['personal', 'anonymous']) s(k)
		 LEFT JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(weights -> s.k) = 'object' THEN weights -> s.k END) e
			ON true
	WHERE CASE WHEN jsonb_typeof(weights -> s.k) IS DISTINCT FROM 'object' THEN true
			   WHEN e.key IS NULL THEN false	-- an empty object: every weight 0
			   WHEN jsonb_typeof(e.value) <> 'number' THEN true
			   ELSE abs(e.value::numeric) > 1e6 END
	ORDER BY s.k, e.key
	LIMIT 1;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%" is damaged: its weights'' % is not %', catalog, bad,
			CASE WHEN bad LIKE '%.%' THEN 'a number between -1e6 and 1e6' ELSE 'an object' END
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'search reads the objects "personal" and "anonymous" of recsys.catalogs.weights.',
				  HINT = 'Learn them again with recsys.tune_search, or set them to numbers.';
	END IF;
	RETURN weights;
END
$$;
COMMENT ON FUNCTION recsys._catalog_weights(text, jsonb) IS
	'internal: a catalog''s weights, refused (XX001) when search cannot rank with them';

CREATE OR REPLACE FUNCTION recsys.search(
	query text,
	user_id bigint DEFAULT NULL,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	catalog text DEFAULT 'default',
	candidates bigint[] DEFAULT NULL,
	exclude_purchased boolean DEFAULT false,
	query_embedding real[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, text_score real, personal_score real, popularity_score real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weights jsonb;
	nearest bigint[];
BEGIN
	IF k IS NULL OR exclude_purchased IS NULL THEN
		RAISE EXCEPTION 'k and exclude_purchased must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k < 1 OR k > 10000 THEN
		RAISE EXCEPTION 'k must be between 1 and 10000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT recsys._catalog_weights(c.name, c.weights) INTO weights FROM recsys.catalogs c WHERE c.name = search.catalog;
	IF query_embedding IS NOT NULL THEN
		-- hybrid: the products nearest the query's embedding are candidates
		-- too; a query embedding holding NaN or an infinity is refused (22023)
		-- whether or not a product is compared with it
		PERFORM recsys._embedding_similarity(query_embedding, query_embedding);
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d
					   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or search without query_embedding.';
		END IF;
		-- an embedding of another length than the query's: the query's
		-- fault, unless the catalog's are not all one length (damage, XX001)
		IF EXISTS (SELECT FROM recsys.catalog_docs d
				   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
					 AND cardinality(d.embedding) <> cardinality(query_embedding)) THEN
			PERFORM recsys._catalog_embedding_length(catalog);
		END IF;
		SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) INTO nearest
		FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, query_embedding) AS sim
			  FROM recsys.catalog_docs d
			  WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
				AND (candidates IS NULL OR d.item_id = ANY (candidates))
			  ORDER BY 2 DESC, 1
			  LIMIT greatest(k, 100)) v;
	END IF;
	RETURN QUERY
	WITH f AS (
		SELECT * FROM recsys._search_features(query, user_id, model, catalog, candidates, exclude_purchased,
											  coalesce(nearest, '{}'), k)
	), w AS (
		SELECT coalesce((x ->> 'text')::real, 0) AS text, coalesce((x ->> 'personal')::real, 0) AS personal,
			   coalesce((x ->> 'popularity')::real, 0) AS popularity, coalesce((x ->> 'bought')::real, 0) AS bought,
			   coalesce((x ->> 'position')::real, 0) AS position,
			   (x ->> 'embedding')::real AS embedding
		FROM (SELECT weights -> CASE WHEN EXISTS (SELECT FROM f WHERE f.personal_score IS NOT NULL)
									 THEN 'personal' ELSE 'anonymous' END AS x) s
	), ranked AS (
		SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score,
			   (w.text * f.text_n + w.personal * f.personal_n + w.popularity * f.popularity_n
				+ w.bought * f.bought::integer + w.position * f.position_n)::real AS learned,
			   w.embedding,
			   -- the cosine similarity to the query's embedding, for a learned fusion
			   CASE WHEN nearest IS NOT NULL AND w.embedding IS NOT NULL
					THEN (SELECT recsys._embedding_similarity(d.embedding, query_embedding)
						  FROM recsys.catalog_docs d
						  WHERE d.catalog = search.catalog AND d.item_id = f.item_id) END AS sim
		FROM f, w
	), fused AS (
		-- with an embedding weight (tune_search learned it), the learned
		-- score plus it times the similarity, min-max normalised over the
		-- candidates (0 without an embedding); else reciprocal rank fusion
		-- (k = 60) of the learned ranking and the embedding's, when there
		-- is one; tied learned scores share their rank, so the item ids'
		-- order does not count as relevance
		SELECT r.*, CASE WHEN nearest IS NULL THEN r.learned
						 WHEN r.embedding IS NOT NULL
						 THEN (r.learned + r.embedding
							   * coalesce((r.sim - min(r.sim) OVER ())
										  / nullif(max(r.sim) OVER () - min(r.sim) OVER (), 0), 0)::real)::real
						 ELSE (1.0 / (60 + rank() OVER (ORDER BY r.learned DESC))
							   + coalesce(1.0 / (60 + array_position(nearest, r.item_id)), 0))::real END AS fused
		FROM ranked r
	)
	SELECT f.item_id, f.fused, f.text_score, f.personal_score, f.popularity_score
	FROM fused f
	ORDER BY 2 DESC, f.item_id
	LIMIT k;
END
$$;
COMMENT ON FUNCTION recsys.search(text, bigint, integer, text, text, bigint[], boolean, real[]) IS
	'personalised product search: the k items of a catalog matching a query, ranked by text relevance, the model''s score for the user and popularity';

-- The EXECUTE grants the 0.9.0 -> 0.10.0 script carried over to train_fm
-- and train_item_knn (which it dropped and created again) were made by
-- an extension script, so PostgreSQL recorded them as the functions'
-- initial privileges (pg_init_privs): pg_dump writes only the changes
-- since those, so a dump no longer held the DBA's REVOKE / GRANT, and a
-- restore into a fresh CREATE EXTENSION gave PUBLIC EXECUTE again
-- (s8's leftover).  A fresh install records no initial privileges for
-- them (created with the default ACL): remove what the carry-over
-- recorded, so that pg_dump writes the DBA's grants again.  (A script
-- that drops and creates a function keeping its ACL must do the same
-- after its GRANTs.)
DELETE FROM pg_catalog.pg_init_privs
WHERE classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND objsubid OPERATOR(pg_catalog.=) 0
  AND objoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
				 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'recsys'::pg_catalog.regnamespace
				   AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['train_fm', 'train_item_knn']::pg_catalog.name[]));

-------------------------------------------------------------------------------
-- Review fixes
-------------------------------------------------------------------------------
