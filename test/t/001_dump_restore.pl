# Models survive pg_dump and pg_restore: the catalog and artefact tables
# are extension configuration tables, so their rows are dumped, and they
# come back in an order their foreign keys accept.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events (user_id bigint, item_id bigint);
	INSERT INTO events VALUES (1, 10), (1, 11), (2, 10);
	INSERT INTO recsys.models (name, version, algorithm, source, params)
		VALUES ('m', 2, 'als', 'public.events', '{"factors": 2}');
	INSERT INTO recsys.model_versions (model, version, algorithm, source)
		VALUES ('m', 1, 'als', 'public.events'), ('m', 2, 'als', 'public.events');
	INSERT INTO recsys.user_factors VALUES ('m', 2, 1, 0.5, '{0.25, -1}'), ('m', 2, 2, 0, '{1, 2}');
	INSERT INTO recsys.item_factors VALUES ('m', 1, 10, 0, '{3, 4}'), ('m', 2, 10, 0.125, '{5, 6}');
	INSERT INTO recsys.item_neighbor_lists VALUES ('m', 2, 10, '{11, 12}', '{0.75, 0.5}');
});

my $snapshot = q{
	SELECT 'models', count(*), string_agg(name || ':' || version || ':' || params::text, ',') FROM recsys.models
	UNION ALL SELECT 'versions', count(*), string_agg(model || version, ',' ORDER BY version) FROM recsys.model_versions
	UNION ALL SELECT 'users', count(*), string_agg(user_id || '=' || bias || factors::text, ',' ORDER BY user_id) FROM recsys.user_factors
	UNION ALL SELECT 'items', count(*), string_agg(version || '/' || item_id || '=' || bias || factors::text, ',' ORDER BY version) FROM recsys.item_factors
	UNION ALL SELECT 'neighbors', count(*), string_agg(item_id || '>' || neighbor_id || '=' || score, ',' ORDER BY rank) FROM recsys.item_neighbors
};
my $before = $node->safe_psql('shop', $snapshot);
like($before, qr/users\|2\|1=0\.5\{0\.25,-1\}/, 'model rows written');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump');

$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into a fresh database');
is($node->safe_psql('restored', $snapshot), $before, 'catalog and artefacts restored row for row');

# single-transaction restore must satisfy the foreign keys in load order
$node->safe_psql('postgres', 'CREATE DATABASE restored_1tx');
$node->command_ok([ 'pg_restore', '--single-transaction', '--exit-on-error',
		'-d', $node->connstr('restored_1tx'), $dump ], 'pg_restore --single-transaction');
is($node->safe_psql('restored_1tx', $snapshot), $before, 'restored in one transaction');

# the restored catalog still cascades
$node->safe_psql('restored', "SELECT recsys.drop_model('m')");
is($node->safe_psql('restored', 'SELECT count(*) FROM recsys.item_factors'), '0',
	'drop_model cascades after restore');

$node->stop;
done_testing();
