-- Upgrades: every released version updates to the current one, and the
-- result matches a fresh install object for object.
SET client_min_messages = warning;

-- one row per extension member, with what defines it
CREATE FUNCTION pg_temp.recsys_objects()
RETURNS TABLE (object text, definition text)
LANGUAGE sql AS $$
	SELECT pg_describe_object(d.classid, d.objid, 0),
		   CASE d.classid
			   WHEN 'pg_proc'::regclass THEN
				   (SELECT concat_ws(' | ', p.prokind, pg_get_function_arguments(p.oid),
									 pg_get_function_result(p.oid), p.provolatile, p.proparallel,
									 p.prosecdef, p.proconfig::text, md5(p.prosrc), p.proacl::text)
					FROM pg_proc p WHERE p.oid = d.objid)
			   WHEN 'pg_class'::regclass THEN
				   (SELECT concat_ws(' | ', c.relkind,
									 (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
														|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
														', ' ORDER BY a.attnum)
									  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
									 (SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY pg_get_constraintdef(k.oid))
									  FROM pg_constraint k WHERE k.conrelid = c.oid),
									 (SELECT md5(pg_get_viewdef(c.oid)) WHERE c.relkind = 'v'),
									 (SELECT string_agg(a.attname || ' default ' || pg_get_expr(d.adbin, d.adrelid), ', ' ORDER BY a.attnum)
									  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
									  WHERE d.adrelid = c.oid),
									 -- row-level security, view options, policies and triggers
									 'rls ' || c.relrowsecurity || ' ' || coalesce(c.reloptions::text, ''),
									 (SELECT string_agg(concat_ws(' ', p.polname, p.polcmd, p.polpermissive, p.polroles::text,
																  pg_get_expr(p.polqual, p.polrelid),
																  pg_get_expr(p.polwithcheck, p.polrelid)), '; ' ORDER BY p.polname)
									  FROM pg_policy p WHERE p.polrelid = c.oid),
									 (SELECT string_agg(pg_get_triggerdef(t.oid), '; ' ORDER BY t.tgname)
									  FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal))
					FROM pg_class c WHERE c.oid = d.objid)
		   END
	FROM pg_depend d
	WHERE d.refclassid = 'pg_extension'::regclass
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'recsys')
	  AND d.deptype = 'e'
$$;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'recsys';
ALTER EXTENSION recsys UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'recsys';
CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.recsys_objects();

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.recsys_objects();

-- no difference either way
SELECT 'only after upgrade' AS side, * FROM (SELECT * FROM upgraded EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM upgraded) b
ORDER BY 1, 2;
SELECT count(*) > 30 AS objects_compared FROM fresh;

-- and from each later release
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.2.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_previous AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.2.0' AS side, * FROM (SELECT * FROM from_previous EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_previous) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.3.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_3 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.3.0' AS side, * FROM (SELECT * FROM from_0_3 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_3) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.4.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_4 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.4.0' AS side, * FROM (SELECT * FROM from_0_4 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_4) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.5.0';
-- models from before 0.6.0 get an owner: the role that trained them if it
-- still exists, else the extension's owner; and no grants
CREATE ROLE regress_recsys_trainer;
INSERT INTO recsys.models (name, algorithm, source, trained_by) VALUES
	('kept', 'popular', 'public.t', 'regress_recsys_trainer'),
	('orphan', 'popular', 'public.t', 'regress_recsys_gone');
ALTER EXTENSION recsys UPDATE;
SELECT name, owner, owner = (SELECT extowner FROM pg_extension WHERE extname = 'recsys') AS extension_owner,
	   grantees
FROM recsys.models ORDER BY 1;
DELETE FROM recsys.models;
DROP ROLE regress_recsys_trainer;
CREATE TEMP TABLE from_0_5 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.5.0' AS side, * FROM (SELECT * FROM from_0_5 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_5) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.6.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_6 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.6.0' AS side, * FROM (SELECT * FROM from_0_6 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_6) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.7.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_7 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.7.0' AS side, * FROM (SELECT * FROM from_0_7 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_7) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.8.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_8 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.8.0' AS side, * FROM (SELECT * FROM from_0_8 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_8) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.9.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_9 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.9.0' AS side, * FROM (SELECT * FROM from_0_9 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_9) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.10.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_10 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.10.0' AS side, * FROM (SELECT * FROM from_0_10 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_10) b
ORDER BY 1, 2;

DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.11.0';
ALTER EXTENSION recsys UPDATE;
CREATE TEMP TABLE from_0_11 AS SELECT * FROM pg_temp.recsys_objects();
SELECT 'only after upgrade from 0.11.0' AS side, * FROM (SELECT * FROM from_0_11 EXCEPT SELECT * FROM fresh) a
UNION ALL
SELECT 'only when fresh', * FROM (SELECT * FROM fresh EXCEPT SELECT * FROM from_0_11) b
ORDER BY 1, 2;

-- a DBA's EXECUTE grants on a function the update drops and creates again
-- (train_fm in 0.10.0) are kept (review s8, 4): no EXECUTE for PUBLIC, one
-- for a role, before and after
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.9.0';
CREATE ROLE regress_recsys_fixr_trainer;
REVOKE EXECUTE ON FUNCTION recsys.train_fm FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recsys.train_fm TO regress_recsys_fixr_trainer;
CREATE FUNCTION pg_temp.train_fm_acl()
RETURNS TABLE (grantee text, privilege text, grantable boolean)
LANGUAGE sql AS $$
	SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = p.proowner THEN 'owner'
				ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, a.is_grantable
	FROM pg_proc p, aclexplode(p.proacl) a
	WHERE p.oid = 'recsys.train_fm'::regproc
	ORDER BY 1
$$;
SELECT * FROM pg_temp.train_fm_acl();
ALTER EXTENSION recsys UPDATE;
SELECT * FROM pg_temp.train_fm_acl();
SELECT pronargs FROM pg_proc WHERE oid = 'recsys.train_fm'::regproc;
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys;
DROP ROLE regress_recsys_fixr_trainer;

-- likewise train_item_knn (cold_map_word_weights in 0.10.0)
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.9.0';
CREATE ROLE regress_recsys_cold_trainer;
REVOKE EXECUTE ON FUNCTION recsys.train_item_knn FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recsys.train_item_knn TO regress_recsys_cold_trainer WITH GRANT OPTION;
CREATE FUNCTION pg_temp.train_item_knn_acl()
RETURNS TABLE (grantee text, privilege text, grantable boolean)
LANGUAGE sql AS $$
	SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = p.proowner THEN 'owner'
				ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, a.is_grantable
	FROM pg_proc p, aclexplode(p.proacl) a
	WHERE p.oid = 'recsys.train_item_knn'::regproc
	ORDER BY 1
$$;
SELECT * FROM pg_temp.train_item_knn_acl();
ALTER EXTENSION recsys UPDATE;
SELECT * FROM pg_temp.train_item_knn_acl();
SELECT pronargs FROM pg_proc WHERE oid = 'recsys.train_item_knn'::regproc;
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys;
DROP ROLE regress_recsys_cold_trainer;

-- the update path the extension offers
SELECT source, target, path FROM pg_extension_update_paths('recsys') WHERE path IS NOT NULL ORDER BY 1, 2;
