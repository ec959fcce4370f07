# An ended experiment and the models' identities survive pg_dump and
# pg_restore into another cluster, where the roles have other OIDs: the
# restored experiment still serves its kept variant to everyone with the
# same results; a running one still serves its model (the identity,
# recsys.models.created_at, is dumped with the model); the variants'
# recorded owner OIDs are this cluster's, looked up by name on restore.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $setup = q{
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_s9fix_owner;
};
my $a = PostgreSQL::Test::Cluster->new('origin');
$a->init;
$a->start;
$a->safe_psql('postgres', 'CREATE ROLE regress_recsys_s9fix_owner');
$a->safe_psql('postgres', 'CREATE DATABASE shop');
$a->safe_psql('shop', 'CREATE EXTENSION recsys' . ';' . $setup);
$a->safe_psql('shop', q{
	-- by construction: item 10 is the most popular, then 11, 12
	CREATE TABLE ev (user_id bigint, item_id bigint);
	INSERT INTO ev SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
	GRANT SELECT ON ev TO regress_recsys_s9fix_owner;
	SET ROLE regress_recsys_s9fix_owner;
	SELECT 1 FROM recsys.train_popular('ev', model => 'pop');
	SELECT 1 FROM recsys.create_experiment('ended', '[{"name": "A"}, {"name": "B", "model": "pop"}]', salt => 's');
	SELECT 1 FROM recsys.create_experiment('running', '[{"name": "A", "model": "pop"}, {"name": "B", "model": "pop"}]',
										   salt => 's');
	INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position)
		SELECT 'ended', recsys.assign('ended', u), u, 10, 1 FROM generate_series(100, 399) u;
	SELECT recsys.log_outcome('ended', u) FROM generate_series(100, 399) u WHERE recsys.assign('ended', u) = 'B';
	SELECT 1 FROM recsys.end_experiment('ended', 'B');
});

my $state = q{
	SET ROLE regress_recsys_s9fix_owner;
	SELECT (SELECT string_agg(DISTINCT recsys.assign('ended', u), ',') FROM generate_series(1, 500) u)
		|| ' ' || (SELECT kept_variant || ' ' || ended_at FROM recsys.experiments WHERE name = 'ended')
		|| ' ' || (SELECT string_agg(variant || '=' || users || '/' || conversions, ',' ORDER BY variant)
				   FROM recsys.experiment_results('ended'))
		|| ' ' || (SELECT string_agg(item_id || ':' || variant, ',') FROM recsys.recommend_for_experiment('ended', 7, 2))
		|| ' ' || (SELECT string_agg(item_id::text, ',') FROM recsys.recommend_for_experiment('running', 7, 1, log => false))
		|| ' ' || (SELECT created_at FROM recsys.models WHERE name = 'pop')
};
my $oids = q{
	SELECT string_agg(DISTINCT ((v ->> 'model_owner_oid')::oid = 'regress_recsys_s9fix_owner'::regrole)::text, ',')
	FROM recsys.experiments e, jsonb_array_elements(e.variants) v WHERE v ? 'model'
};
my $before = $a->safe_psql('shop', $state);
like($before, qr/^B B /, 'ended: everyone is assigned the kept variant');
like($before, qr/ A=\d+\/0,B=\d+\/\d+ 10:B,11:B 10 /, 'ended: results, kept variant served; running: its model');
is($a->safe_psql('shop', $oids), 'true', 'the variants record the owner\'s OID');
my $oid_a = $a->safe_psql('postgres', q{SELECT 'regress_recsys_s9fix_owner'::regrole::oid});

my $dump = $a->basedir . '/shop.dump';
$a->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $a->connstr('shop') ], 'pg_dump');

# another cluster, where the owner's role has another OID
my $b = PostgreSQL::Test::Cluster->new('restored');
$b->init;
$b->start;
$b->safe_psql('postgres', 'CREATE ROLE regress_recsys_s9fix_pad; CREATE ROLE regress_recsys_s9fix_owner');
isnt($b->safe_psql('postgres', q{SELECT 'regress_recsys_s9fix_owner'::regrole::oid}), $oid_a,
	'the owner has another OID in the second cluster');
$b->safe_psql('postgres', 'CREATE DATABASE shop');
$b->command_ok([ 'pg_restore', '-d', $b->connstr('shop'), $dump ], 'pg_restore');
is($b->safe_psql('shop', $state), $before,
	'after a restore: the same end, kept variant, results, served lists and model identity');
is($b->safe_psql('shop', $oids), 'true', 'the restored variants record the owner\'s OID of this cluster');
# the restored ended experiment still protects its kept variant's model
my ($rc, $out, $err) = $b->psql('shop', q{
	SET ROLE regress_recsys_s9fix_owner;
	SELECT recsys.drop_experiment('running');
	SELECT recsys.drop_model('pop');
});
like($err, qr/because ended experiment "ended" still serves it/, 'the kept model is still protected');

$a->stop;
$b->stop;
done_testing();
