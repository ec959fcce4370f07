# recsys on a real Citus cluster (a coordinator and two workers):
# retail-like events distributed by user_id, a model trained on the
# coordinator and copied to the workers with recsys.sync_model; then
# fold_in grouped by the distribution column and recommend_ids, both
# pushed to the workers, give bit for bit what a plain local table gives on
# the coordinator; a retrain and a second sync replace the workers' copy;
# a role that does not own the model cannot sync it.  sync_model's two
# phases: a worker refusing the copy leaves every worker on its previous
# copy; a worker whose switch fails is named and a second call completes
# the sync; a blend goes with its members, one another role owns must be
# synced by its owner first.
#
# Citus is not a Debian package: build it from source outside the
# repository (test/tools/build_citus.sh).  Without citus.so in this
# PostgreSQL's library directory the test is skipped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $coord = PostgreSQL::Test::Cluster->new('citus_coordinator');
my $pkglibdir = $coord->config_data('--pkglibdir');
plan skip_all => "Citus is not installed ($pkglibdir/citus.so is absent; "
  . 'build it with test/tools/build_citus.sh)'
  unless -f "$pkglibdir/citus.so";

my @workers = map { PostgreSQL::Test::Cluster->new("citus_worker$_") } 1 .. 2;
my @nodes = ($coord, @workers);
for my $node (@nodes)
{
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'\nmax_connections = 40");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
}
my $host = $coord->host;
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('$host', " . $coord->port . ")");
$coord->safe_psql('postgres', "SELECT 1 FROM citus_add_node('$host', " . $_->port . ")") for @workers;
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'),
	'2', 'a coordinator and two workers');

# recsys and the roles: Citus propagates the extension and the roles to the
# workers; the catalog stays local to each node, so its table privileges
# are granted on each
$coord->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE ROLE regress_recsys_cit_owner LOGIN;
	CREATE ROLE regress_recsys_cit_other LOGIN;
});
for my $node (@nodes)
{
	is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'recsys'"),
		$coord->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'recsys'"),
		$node->name . ' has recsys');
	$node->safe_psql('postgres', q{
		GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
			TO regress_recsys_cit_owner, regress_recsys_cit_other;
	});
}

# retail-like events: 300 users, 60 items, purchases weighted by quantity
my $owner = sub {
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres',
		"SET ROLE regress_recsys_cit_owner; SET extra_float_digits = 3;\n$sql");
};
$coord->safe_psql('postgres', q{
	CREATE TABLE retail_events (user_id bigint, item_id bigint, quantity real);
	ALTER TABLE retail_events OWNER TO regress_recsys_cit_owner;
	INSERT INTO retail_events
		SELECT u, (u * 7 + j * j * 3) % 60, 1 + (u + j) % 4
		FROM generate_series(1, 300) u, generate_series(1, 8 + u % 5) j;
	SELECT create_distributed_table('retail_events', 'user_id', shard_count => 4);
	-- the same rows in a plain table of the coordinator: the local reference
	CREATE TABLE local_events AS SELECT * FROM retail_events;
	ALTER TABLE local_events OWNER TO regress_recsys_cit_owner;
});
is($coord->safe_psql('postgres',
		"SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'retail_events'::regclass"),
	'2', 'the events are spread over both workers');

$owner->($coord, q{
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		weight_col => 'quantity', factors => 8, iterations => 5, model => 'cit');
	SELECT recsys.grant_model('cit', 'regress_recsys_cit_other');
});

# fold_in grouped by the distribution column runs whole on the workers;
# recommend_ids in such a query too
my $fold_in_sql = sub {
	"SELECT string_agg(user_id || ':' || v::text, ';' ORDER BY user_id) FROM ("
	  . "SELECT user_id, recsys.fold_in(item_id, quantity, 'cit') AS v FROM $_[0] GROUP BY user_id) s";
};
my $recommend_sql = sub {
	"SELECT string_agg(user_id || ':' || r::text, ';' ORDER BY user_id) FROM ("
	  . "SELECT user_id, recsys.recommend_ids(user_id, 5, 'cit', false) AS r FROM $_[0] GROUP BY user_id) s";
};

my ($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_owner;\n" . $fold_in_sql->('retail_events'));
like($err, qr/model "cit" does not exist/, 'before sync_model, the workers have no model for fold_in');
($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_owner;\n" . $recommend_sql->('retail_events'));
like($err, qr/model "cit" does not exist/, 'nor for recommend_ids');

# grouped by another column or over all rows, Citus splits fold_in: partial
# states on the workers (raw item ids, no model needed), combined and
# finished on the coordinator: works without a copy on the workers
my $split_sql = sub {
	"SELECT string_agg(g || ':' || v::text, ';' ORDER BY g) FROM ("
	  . "SELECT item_id % 3 AS g, recsys.fold_in(item_id, quantity, 'cit') AS v FROM $_[0] GROUP BY 1 "
	  . "UNION ALL SELECT -1, recsys.fold_in(item_id, quantity, 'cit') FROM $_[0]) s";
};
my $split_local = $owner->($coord, $split_sql->('local_events'));
# Citus's worker_partial_agg checks the caller's EXECUTE on the aggregate's
# support functions (PostgreSQL checks the aggregate owner's), which recsys
# revokes from PUBLIC: a DBA grants them to the roles that fold in on Citus
($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_owner;\n" . $split_sql->('retail_events'));
like($err, qr/permission denied for function fold_in_/, 'without EXECUTE on its support functions Citus refuses the split');
$_->safe_psql('postgres', q{
	GRANT EXECUTE ON FUNCTION recsys.fold_in_accum(bytea, bigint, real, text),
		recsys.fold_in_combine(bytea, bytea), recsys.fold_in_final(bytea) TO regress_recsys_cit_owner;
}) for @nodes;
like($split_local, qr/^-1:\{[-0-9.e]+(,[-0-9.e]+){7}\};0:/, 'a local fold_in per item group and over all rows');
is($owner->($coord, $split_sql->('retail_events')), $split_local,
	'the same split between workers and coordinator, before any sync, bit for bit');

# the other role may use the model but not sync it
($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_other; SELECT * FROM recsys.sync_model('cit')");
like($err, qr/permission denied to sync model "cit", owned by role "regress_recsys_cit_owner"/, 'a role that does not own the model cannot sync it');
isnt($ret, 0, 'and the call fails');

# sync: each worker gets the active version, its trained_at, owner and grantees
my $catalog_sql = q{
	SELECT m.version || ' ' || m.trained_at || ' ' || m.owner || ' ' || m.grantees::text
		|| ' versions ' || (SELECT string_agg(v.version::text, ',') FROM recsys.model_versions v WHERE v.model = m.name)
		|| ' items ' || (SELECT count(*) FROM recsys.item_factors f WHERE f.model = m.name AND f.version = m.version)
		|| ' users ' || (SELECT count(*) FROM recsys.user_factors f WHERE f.model = m.name AND f.version = m.version)
		|| ' stats ' || (SELECT count(*) FROM recsys.item_stats f WHERE f.model = m.name AND f.version = m.version)
		|| ' ' || md5((SELECT string_agg(f.item_id || ':' || f.bias || ':' || f.factors::text, ';' ORDER BY f.item_id)
					   FROM recsys.item_factors f WHERE f.model = m.name AND f.version = m.version))
	FROM recsys.models m WHERE m.name = 'cit'
};
my $synced = $owner->($coord, "SELECT string_agg(version || ' ' || trained_at, ',') FROM recsys.sync_model('cit')");
my $want = $owner->($coord, "SELECT version || ' ' || trained_at FROM recsys.models WHERE name = 'cit'");
is($synced, "$want,$want", 'sync_model reports the active version copied to two workers');
my $coord_catalog = $owner->($coord, $catalog_sql);
like($coord_catalog, qr/^1 .* regress_recsys_cit_owner \{regress_recsys_cit_other\} versions 1 items 60 users 300 stats 60 /,
	'the coordinator\'s catalog as expected');
is($owner->($_, $catalog_sql), $coord_catalog, $_->name . ': the same model row, version, grantees and rows')
  for @workers;

# exclude_seen reads the model's source, here the distributed table itself:
# from a query on a shard Citus refuses that nested distributed query (see
# doc/operations.md, "Running on Citus"); exclude_seen => false above
($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_owner; SELECT recsys.recommend_ids(user_id, 5, 'cit') FROM retail_events GROUP BY user_id");
like($err, qr/cannot execute a distributed query from a query on a shard/,
	'recommend_ids pushed down with exclude_seen meets Citus\'s nested-query refusal');

# bit-equal to a local run
my $local_fold = $owner->($coord, $fold_in_sql->('local_events'));
like($local_fold, qr/^1:\{[-0-9.e]+(,[-0-9.e]+){7}\};2:/, 'a local fold_in: one 8-factor vector per user');
is($owner->($coord, $fold_in_sql->('retail_events')), $local_fold,
	'fold_in grouped by user_id on the workers equals the local run bit for bit');
my $local_rec = $owner->($coord, $recommend_sql->('local_events'));
like($local_rec, qr/^1:\{\d+(,\d+){4}\};2:/, 'a local recommend_ids: 5 items per user');
is($owner->($coord, $recommend_sql->('retail_events')), $local_rec,
	'recommend_ids pushed to the workers equals the local run');
# one user, routed to its worker
is($owner->($coord, "SELECT recsys.recommend_ids(user_id, 5, 'cit', false)::text FROM retail_events WHERE user_id = 42 LIMIT 1"),
	$owner->($coord, "SELECT recsys.recommend_ids(42, 5, 'cit', false)::text"),
	'a single user\'s query routed to its worker');
like($coord->safe_psql('postgres',
		"SET ROLE regress_recsys_cit_owner; EXPLAIN (VERBOSE, COSTS OFF) " . $recommend_sql->('retail_events')),
	qr/Task Count: 4.*recommend_ids/s, 'the plan sends recommend_ids to the shards');

# a retrain replaces the copy on the next sync
$owner->($coord, q{
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		weight_col => 'quantity', factors => 8, iterations => 5, seed => 99, model => 'cit');
});
isnt($owner->($coord, $fold_in_sql->('local_events')), $local_fold, 'the retrained model folds in differently');
is($owner->($coord, $fold_in_sql->('retail_events')), $local_fold,
	'before the second sync the workers still serve version 1');
$owner->($coord, "SELECT count(*) FROM recsys.sync_model('cit')");
$coord_catalog = $owner->($coord, $catalog_sql);
like($coord_catalog, qr/^2 .* versions 1,2 /, 'the coordinator keeps both versions');
(my $one_version = $coord_catalog) =~ s/versions 1,2 /versions 2 /;
is($owner->($_, $catalog_sql), $one_version, $_->name . ': version 2 replaced version 1') for @workers;
my $local_fold_2 = $owner->($coord, $fold_in_sql->('local_events'));
is($owner->($coord, $fold_in_sql->('retail_events')), $local_fold_2,
	'fold_in on the workers equals the local run after the retrain');
is($owner->($coord, $recommend_sql->('retail_events')), $owner->($coord, $recommend_sql->('local_events')),
	'recommend_ids on the workers equals the local run after the retrain');

# a write before the sync in the same transaction is refused
($ret, $out, $err) = $coord->psql('postgres',
	"SET ROLE regress_recsys_cit_owner; BEGIN; SELECT recsys.grant_model('cit', 'PUBLIC'); "
	  . "SELECT * FROM recsys.sync_model('cit'); COMMIT;");
like($err, qr/cannot run in a transaction that has written/, 'sync_model after a write in its transaction is refused');

# two phases: a worker that refuses the copy (here a trigger of its DBA
# on its item factors) leaves every worker on its previous copy, the one
# that would have taken it too
$owner->($coord, q{
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		weight_col => 'quantity', factors => 8, iterations => 5, seed => 3, model => 'cit');
});
my $w2 = $workers[1]->port;
$workers[1]->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	CREATE FUNCTION public.refuse_cit() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN RAISE EXCEPTION 'this worker refuses version %', NEW.version; END $$;
	CREATE TRIGGER refuse_cit BEFORE INSERT ON recsys.item_factors
		FOR EACH ROW WHEN (NEW.model = 'cit' AND NEW.version = 3) EXECUTE FUNCTION public.refuse_cit();
});
($ret, $out, $err) = $coord->psql('postgres', "SET ROLE regress_recsys_cit_owner; SELECT * FROM recsys.sync_model('cit')");
like($err, qr/could not copy model "cit" to every worker: [^ ]+:$w2: ERROR:  this worker refuses version 3.*DETAIL:  No worker changed its copy/s,
	'a worker refusing the copy fails the sync, named with its error');
is($owner->($_, "SELECT version FROM recsys.models WHERE name = 'cit'"), '2', $_->name . ': still version 2')
  for @workers;
my $version_sql = "SELECT version || ' ' || (SELECT count(*) FROM recsys.sync_staging) FROM recsys.models WHERE name = 'cit'";
is($owner->($_, $version_sql), '2 0', $_->name . ': nothing left staged') for @workers;
is($owner->($coord, $fold_in_sql->('retail_events')), $local_fold_2,
	'the workers still serve version 2 alike');

# a worker lost between the phases (here its switch fails: a trigger on
# the staging area's delete): the error names the workers switched and
# not; the one not switched keeps its copy and the new one staged; a
# second call completes the sync
$workers[1]->safe_psql('postgres', q{
	SET citus.enable_ddl_propagation = off;
	DROP TRIGGER refuse_cit ON recsys.item_factors;
	CREATE TRIGGER refuse_switch BEFORE DELETE ON recsys.sync_staging
		FOR EACH ROW EXECUTE FUNCTION public.refuse_cit();
});
($ret, $out, $err) = $coord->psql('postgres', "SET ROLE regress_recsys_cit_owner; SELECT * FROM recsys.sync_model('cit')");
my $w1 = $workers[0]->port;
like($err, qr/could not switch every worker to the new copy of model "cit": [^ ]+:$w2: .*DETAIL:  Switched: [^ ]+:$w1\. .*HINT:  Call recsys.sync_model again/s,
	'a failed switch is reported per worker');
is($owner->($workers[0], $version_sql), '3 0', 'worker 1 switched to version 3');
is($owner->($workers[1], $version_sql), '2 1', 'worker 2 still serves version 2, version 3 staged');
$workers[1]->safe_psql('postgres',
	'SET citus.enable_ddl_propagation = off; DROP TRIGGER refuse_switch ON recsys.sync_staging; DROP FUNCTION public.refuse_cit()');
is($owner->($coord, "SELECT string_agg(model_name || ' ' || version, ',') FROM recsys.sync_model('cit')"),
	'cit 3,cit 3', 'called again, the sync completes');
is($owner->($_, $version_sql), '3 0', $_->name . ': version 3, nothing staged') for @workers;
$coord_catalog = $owner->($coord, $catalog_sql);
(my $only_3 = $coord_catalog) =~ s/versions 1,2,3 /versions 3 /;
is($owner->($_, $catalog_sql), $only_3, $_->name . ': the coordinator\'s version 3, row for row') for @workers;

# a blend: its members go with it, before it; pushed to the workers it
# serves as on the coordinator (members that keep their users' vectors:
# an item-kNN member reads each user's rows from the source, which on a
# shard is a nested distributed query Citus refuses, as exclude_seen above)
$owner->($coord, q{
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		factors => 4, iterations => 3, seed => 11, model => 'cit_two');
	SELECT 1 FROM recsys.train_blend('{cit,cit_two}', '{1,0.5}', model => 'cit_blend');
});
my $blend_sql = sub {
	"SELECT string_agg(user_id || ':' || r::text, ';' ORDER BY user_id) FROM ("
	  . "SELECT user_id, recsys.recommend_ids(user_id, 5, 'cit_blend', false) AS r FROM $_[0] GROUP BY user_id) s";
};
is($owner->($coord, "SELECT string_agg(model_name || ' ' || nodeport, ',') FROM recsys.sync_model('cit_blend')"),
	join(',', map { my $m = $_; map { "$m " . $_->port } @workers } qw(cit cit_two cit_blend)),
	'syncing a blend copies its members first, to every worker');
my $local_blend = $owner->($coord, $blend_sql->('local_events'));
like($local_blend, qr/^1:\{\d+(,\d+){4}\};2:/, 'a local blend ranking');
is($owner->($coord, $blend_sql->('retail_events')), $local_blend, 'the blend serves on the workers as locally');

# a member another role owns is not the caller's to copy: its owner syncs
# it first, then the blend goes
$coord->safe_psql('postgres', 'GRANT SELECT ON retail_events TO regress_recsys_cit_other');
$coord->safe_psql('postgres', q{
	SET ROLE regress_recsys_cit_other;
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		factors => 4, iterations => 3, model => 'cit_oth');
	SELECT recsys.grant_model('cit_oth', 'regress_recsys_cit_owner');
});
$owner->($coord, "SELECT 1 FROM recsys.train_blend('{cit,cit_oth}', model => 'cit_blend2')");
($ret, $out, $err) = $coord->psql('postgres', "SET ROLE regress_recsys_cit_owner; SELECT * FROM recsys.sync_model('cit_blend2')");
like($err, qr/model "cit_oth", used by "cit_blend2", is not on this node at version 1.*HINT: .*you do not own \(cit_oth\) are synced by their owners first/s,
	'a member owned by another role must be on the workers first');
is($owner->($_, "SELECT count(*) FROM recsys.models WHERE name = 'cit_blend2'"), '0',
	$_->name . ': no part of the blend copied') for @workers;
$coord->safe_psql('postgres', "SET ROLE regress_recsys_cit_other; SELECT count(*) FROM recsys.sync_model('cit_oth')");
is($owner->($coord, "SELECT string_agg(model_name || ' ' || nodeport, ',') FROM recsys.sync_model('cit_blend2')"),
	join(',', map { my $m = $_; map { "$m " . $_->port } @workers } qw(cit cit_blend2)),
	'once its owner synced it, the blend and the caller\'s own member go');
is($owner->($coord, $blend_sql->('retail_events') =~ s/cit_blend/cit_blend2/r),
	$owner->($coord, $blend_sql->('local_events') =~ s/cit_blend/cit_blend2/r),
	'that blend serves on the workers as locally');

# that member dropped and trained again on the coordinator restarts at
# version 1: the workers' version 1 is the old model, and the blend is
# refused until its owner syncs the new one (before 0.9.0's review the
# version alone was compared, and the blend served against the old member)
$owner->($coord, "SELECT recsys.drop_model('cit_blend2')");
$coord->safe_psql('postgres', q{
	SET ROLE regress_recsys_cit_other;
	SELECT recsys.drop_model('cit_oth');
	SELECT 1 FROM recsys.train_cf('retail_events', user_col => 'user_id', item_col => 'item_id',
		factors => 4, iterations => 3, seed => 5, model => 'cit_oth');
	SELECT recsys.grant_model('cit_oth', 'regress_recsys_cit_owner');
});
$owner->($coord, "SELECT 1 FROM recsys.train_blend('{cit,cit_oth}', model => 'cit_blend2')");
($ret, $out, $err) = $coord->psql('postgres', "SET ROLE regress_recsys_cit_owner; SELECT * FROM recsys.sync_model('cit_blend2')");
like($err, qr/model "cit_oth", used by "cit_blend2", is on this node at version 1 but not as trained on the coordinator/,
	'a member dropped and retrained (version 1 again) is refused until its owner syncs it');
$coord->safe_psql('postgres', "SET ROLE regress_recsys_cit_other; SELECT count(*) FROM recsys.sync_model('cit_oth')");
is($owner->($coord, "SELECT count(*) FROM recsys.sync_model('cit_blend2')"), 2 * scalar(@workers),
	'then the blend goes');
is($owner->($coord, $blend_sql->('retail_events') =~ s/cit_blend/cit_blend2/r),
	$owner->($coord, $blend_sql->('local_events') =~ s/cit_blend/cit_blend2/r),
	'and serves on the workers as locally, with the new member');

$coord->safe_psql('postgres', q{
	SELECT recsys.drop_model('cit_blend'), recsys.drop_model('cit_blend2');
	SELECT recsys.drop_model('cit_two'), recsys.drop_model('cit_oth');
	SELECT recsys.drop_model('cit');
	DROP TABLE retail_events, local_events;
});
for my $node (@nodes)
{
	$node->safe_psql('postgres', q{
		DELETE FROM recsys.models WHERE algorithm = 'blend';
		DELETE FROM recsys.models;
		REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_cit_owner, regress_recsys_cit_other;
		REVOKE ALL ON ALL FUNCTIONS IN SCHEMA recsys FROM regress_recsys_cit_owner;
	});
}
$coord->safe_psql('postgres', 'DROP ROLE regress_recsys_cit_owner, regress_recsys_cit_other');
$_->stop for reverse @nodes;
done_testing();
