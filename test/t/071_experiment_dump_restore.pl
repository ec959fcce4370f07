# Experiments survive pg_dump and pg_restore: the catalog and both
# hash-partitioned logs are extension configuration tables (the partitions
# too), so their rows come back once each (not once for the parent and once
# for the partition), with owner and grantees, and every user keeps its
# variant (the hash key is the catalog row's salt).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE regress_recsys_exp_dump_app');
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
	CREATE EXTENSION recsys;
	SELECT 1 FROM recsys.create_experiment('e', '[{"name": "A"}, {"name": "B", "share": 3}]', holdout => 0.1);
	SELECT recsys.alter_experiment('e', '[{"name": "A"}, {"name": "B"}]');
	SELECT recsys.grant_experiment('e', 'regress_recsys_exp_dump_app');
	INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position)
		SELECT 'e', recsys.assign('e', u), u, u % 7, 1 FROM generate_series(1, 500) u;
	SELECT recsys.log_outcome('e', u, amount => u) FROM generate_series(1, 50) u;
	SELECT recsys.log_outcome('e', u, 'click', u % 7) FROM generate_series(1, 30) u;
});

my $state = q{
	SELECT (SELECT string_agg(recsys.assign('e', u), ',' ORDER BY u) FROM generate_series(1, 1000) u)
		|| ' ' || (SELECT count(*) FROM recsys.experiment_impressions)
		|| ' ' || (SELECT count(*) FROM recsys.experiment_outcomes)
		|| ' ' || (SELECT owner || ' ' || grantees::text || ' ' || salt FROM recsys.experiments)
		|| ' ' || (SELECT string_agg(variant || '=' || users || '/' || conversions, ',' ORDER BY variant)
				   FROM recsys.experiment_results('e'))
};
my $before = $node->safe_psql('shop', $state);
like($before, qr/ 500 80 /, 'the experiment has its log');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('shop') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is($node->safe_psql('restored', $state), $before,
	'after a restore: the same assignments, log, owner, grantees and results');

$node->safe_psql('restored', 'DROP EXTENSION recsys CASCADE');
$node->safe_psql('postgres', 'DROP DATABASE restored');
$node->safe_psql('postgres', 'DROP DATABASE shop');
$node->safe_psql('postgres', 'DROP ROLE regress_recsys_exp_dump_app');
$node->stop;
done_testing();
