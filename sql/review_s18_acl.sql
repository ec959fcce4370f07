-- Review of s18, R5: the 0.11.0 to 0.12.0 script drops train_ease and
-- creates it again (max_items) without carrying the EXECUTE grants a DBA
-- made on it, as the project does since 0.10.0 (doc/operations.md,
-- "Function privileges across an update"; train_fm, train_item_knn in
-- sql/upgrade.sql).  Expected: the same ACL before and after the update.
SET client_min_messages = warning;
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.11.0';
CREATE ROLE regress_recsys_s18_trainer;
REVOKE EXECUTE ON FUNCTION recsys.train_ease FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recsys.train_ease TO regress_recsys_s18_trainer;
CREATE FUNCTION pg_temp.train_ease_acl()
RETURNS TABLE (grantee text, privilege text, grantable boolean)
LANGUAGE sql AS $$
	SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' WHEN a.grantee = p.proowner THEN 'owner'
				ELSE pg_get_userbyid(a.grantee)::text END, a.privilege_type, a.is_grantable
	FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	WHERE p.oid = 'recsys.train_ease'::regproc
	ORDER BY 1
$$;
SELECT * FROM pg_temp.train_ease_acl();
ALTER EXTENSION recsys UPDATE;
SELECT * FROM pg_temp.train_ease_acl();
SELECT pronargs FROM pg_proc WHERE oid = 'recsys.train_ease'::regproc;
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys;
DROP ROLE regress_recsys_s18_trainer;
