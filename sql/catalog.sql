-- recsys's model catalog: ordinary tables a DBA can query, join and manage
SELECT c.relname, c.relkind,
	   (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum)
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'recsys' AND c.relkind IN ('r', 'v')
ORDER BY 1;

-- every table's rows go into pg_dump
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension WHERE extname = 'recsys' ORDER BY unnest(extconfig)::regclass::text;

-- every table has row-level security, with a read policy and an owners' policy
SELECT c.relname, c.relrowsecurity,
	   (SELECT string_agg(p.polname || ' ' || p.polcmd::text, ', ' ORDER BY p.polname)
		FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c WHERE c.relnamespace = 'recsys'::regnamespace AND c.relkind = 'r'
ORDER BY 1;

-- foreign keys cascade from a model to its versions to their artefacts
SELECT conrelid::regclass AS child, confrelid::regclass AS parent, confdeltype
FROM pg_constraint WHERE contype = 'f' AND connamespace = 'recsys'::regnamespace
ORDER BY conrelid::regclass::text;

-- a model written by hand, as training does, with two versions
INSERT INTO recsys.models (name, version, algorithm, source, params, n_users, n_items)
	VALUES ('shop', 2, 'als', 'public.events', '{"factors": 2}', 2, 2);
INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES
	('shop', 1, 'als', 'public.events'), ('shop', 2, 'als', 'public.events');
INSERT INTO recsys.user_factors VALUES ('shop', 1, 7, 0, '{0.1, 0.2}'), ('shop', 2, 7, 0, '{0.3, 0.4}');
INSERT INTO recsys.item_factors VALUES ('shop', 2, 70, 0.5, '{1, 0}'), ('shop', 2, 71, 0, '{0, 1}');
INSERT INTO recsys.item_neighbor_lists VALUES ('shop', 2, 70, '{71, 72}', '{0.9, 0.5}');
INSERT INTO recsys.models (name, algorithm, source) VALUES ('other', 'item_knn', 'public.events');
INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES ('other', 1, 'item_knn', 'public.events');
INSERT INTO recsys.item_neighbor_lists VALUES ('other', 1, 70, '{71}', '{0.5}');

-- artefacts need an existing model version
INSERT INTO recsys.item_factors VALUES ('ghost', 1, 70, 0, '{1}');
-- catalog constraints (terse: the failing row shows a timestamp)
\set VERBOSITY terse
INSERT INTO recsys.models (name, algorithm, source) VALUES ('', 'als', 't');
INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES ('shop', 0, 'als', 't');
\set VERBOSITY default

-- neighbour lists read one pair per row through the item_neighbors view
SELECT model, item_id, neighbor_id, score, rank FROM recsys.item_neighbors ORDER BY model, rank;
-- a list's ids and scores must pair up
INSERT INTO recsys.item_neighbor_lists VALUES ('shop', 2, 71, '{70}', '{0.9, 0.1}');

-- the artefacts join like any table: the active version's item factors
SELECT m.name, f.item_id, f.factors
FROM recsys.models m JOIN recsys.item_factors f ON f.model = m.name AND f.version = m.version
ORDER BY 1, 2;

-- drop_model removes the model, all its versions and artefacts, nothing else
SELECT recsys.drop_model('shop');
SELECT name FROM recsys.models ORDER BY 1;
SELECT count(*) FROM recsys.model_versions WHERE model = 'shop';
SELECT count(*) FROM recsys.user_factors;
SELECT count(*) FROM recsys.item_factors;
SELECT model, item_id, neighbor_id, score, rank FROM recsys.item_neighbors;

-- errors: unknown model, NULL model; if_exists makes the unknown case quiet
SELECT recsys.drop_model('shop');
SELECT recsys.drop_model(NULL);
SELECT recsys.drop_model('shop', if_exists => true);
SELECT recsys.drop_model('other');
SELECT count(*) FROM recsys.models;

-- functions run with the caller's rights
SELECT p.proname, p.prosecdef FROM pg_proc p
WHERE p.pronamespace = 'recsys'::regnamespace ORDER BY 1;
