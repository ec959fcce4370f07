# Models survive pg_dump and pg_restore: the catalog and artefact tables
# are extension configuration tables, so their rows are dumped, and they
# come back in an order their foreign keys accept.  Owners and grants come
# back too (by role name: the roles must exist where the dump is restored),
# and so does the row-level security that keeps a role to its models.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

# roles are the cluster's: the restored databases below see them too
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_owner;
	CREATE ROLE regress_recsys_user;
	CREATE ROLE regress_recsys_other;
});
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
	INSERT INTO recsys.models (name, algorithm, source) VALUES ('p', 'popular', 'public.events');
	INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES ('p', 1, 'popular', 'public.events');
	INSERT INTO recsys.item_stats VALUES ('p', 1, 10, 2, 2, 2);
	-- m belongs to one role and is granted to another; p is the superuser's
	SELECT recsys.alter_model_owner('m', 'regress_recsys_owner');
	SELECT recsys.grant_model('m', 'regress_recsys_user');
	SELECT recsys.grant_model('p', 'PUBLIC');
	GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_owner, regress_recsys_user, regress_recsys_other;
});
my $owners = q{SELECT string_agg(name || ' ' || owner || ' ' || grantees::text, ', ' ORDER BY name) FROM recsys.models};
# what each role sees: models and rows of the artefact tables
my $visible = q{
	SELECT r, (SELECT string_agg(name, ',' ORDER BY name) FROM recsys.models),
		   (SELECT count(*) FROM recsys.user_factors), (SELECT count(*) FROM recsys.item_neighbors)
	FROM (SELECT current_user::text AS r) s};
sub seen_by
{
	my ($db) = @_;
	return join("\n", map {
		$node->safe_psql($db, "SET ROLE $_;$visible")
	} qw(regress_recsys_owner regress_recsys_user regress_recsys_other));
}
is($node->safe_psql('shop', $owners),
	'm regress_recsys_owner {regress_recsys_user}, p postgres {-}', 'owners and grants set');
my $seen_before = seen_by('shop');
is($seen_before, "regress_recsys_owner|m,p|2|2\nregress_recsys_user|m,p|2|2\nregress_recsys_other|p|0|0",
	'each role sees the models it owns or may use');

my $snapshot = q{
	SELECT 'models', count(*), string_agg(name || ':' || version || ':' || params::text, ',' ORDER BY name) FROM recsys.models
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
is($node->safe_psql('restored', $owners), 'm regress_recsys_owner {regress_recsys_user}, p postgres {-}',
	'owners and grants restored');
is(seen_by('restored'), $seen_before, 'row-level security restored: each role sees what it saw');
is($node->safe_psql('restored', q{SELECT count(*) FROM pg_policy WHERE polrelid::regclass::text LIKE 'recsys.%'}),
	$node->safe_psql('shop', q{SELECT count(*) FROM pg_policy WHERE polrelid::regclass::text LIKE 'recsys.%'}),
	'the policies are the extension\'s, once');

# single-transaction restore must satisfy the foreign keys in load order
$node->safe_psql('postgres', 'CREATE DATABASE restored_1tx');
$node->command_ok([ 'pg_restore', '--single-transaction', '--exit-on-error',
		'-d', $node->connstr('restored_1tx'), $dump ], 'pg_restore --single-transaction');
is($node->safe_psql('restored_1tx', $snapshot), $before, 'restored in one transaction');
is($node->safe_psql('restored_1tx', $owners), 'm regress_recsys_owner {regress_recsys_user}, p postgres {-}',
	'owners and grants restored in one transaction');

# the restored catalog still cascades
$node->safe_psql('restored', "SELECT recsys.drop_model('m')");
is($node->safe_psql('restored', 'SELECT count(*) FROM recsys.item_factors'), '0',
	'drop_model cascades after restore');

$node->stop;
done_testing();
