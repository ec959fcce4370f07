# A table the update to 0.11.0 creates (recsys.item_term_lists, the cold
# re-rankers' lists) gets the grants its sibling item_neighbor_lists has
# (review s12, V9): a DBA's GRANT ... ON ALL TABLES IN SCHEMA recsys made
# on 0.10.0 did not reach it, and a training role fitted a cold re-ranker
# to the end and failed with a raw "permission denied for table
# item_term_lists".  The grants are not recorded as initial privileges,
# so pg_dump writes them and a restore has them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_trainer;
	CREATE DATABASE shop;
});
$node->safe_psql('shop', q{
	CREATE EXTENSION recsys VERSION '0.10.0';
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_trainer;
	ALTER EXTENSION recsys UPDATE;
});
my $privileges = q{SELECT string_agg(p, ',' ORDER BY p) FROM unnest('{SELECT,INSERT,UPDATE,DELETE}'::text[]) p
	WHERE has_table_privilege('regress_recsys_trainer', 'recsys.item_term_lists', p)};
is($node->safe_psql('shop', $privileges), 'DELETE,INSERT,SELECT,UPDATE',
	'the updated table has the trainer\'s grants of the other tables');
is($node->safe_psql('shop', q{SELECT count(*) FROM pg_init_privs
	WHERE classoid = 'pg_class'::regclass AND objoid = 'recsys.item_term_lists'::regclass}), '0',
	'not recorded as initial privileges');

# the trainer trains a cold re-ranker (before: 42501 at its write)
$node->safe_psql('shop', q{
	CREATE TABLE ev AS SELECT u AS user_id, (u * 7 + j) % 30 + 1 AS item_id
		FROM generate_series(1, 60) u, generate_series(1, 4) j;
	CREATE TABLE feat AS SELECT i AS item_id, 'f' || (i % 4) AS feature FROM generate_series(1, 40) i;
	GRANT SELECT ON ev, feat TO regress_recsys_trainer;
});
my ($ret, $out, $err) = $node->psql('shop', q{SET ROLE regress_recsys_trainer;
	SELECT name FROM recsys.train_cold_ranker('ev', 'feat', 'cr')});
is($err, '', 'the trainer trains a cold re-ranker after the update');

# dump and restore: the restored table has the grants
my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is($node->safe_psql('restored', $privileges), 'DELETE,INSERT,SELECT,UPDATE', 'the restored database has them');

$node->stop;
done_testing();
