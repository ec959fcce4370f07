# A DBA's EXECUTE grants on a function an update script drops and creates
# again (train_fm, train_item_knn in 0.9.0 -> 0.10.0) are carried over by
# the script, and PostgreSQL records grants made by an extension script as
# the function's initial privileges (pg_init_privs); pg_dump writes only
# the changes since those, so after the update to 0.10.0 a dump lacked the
# DBA's REVOKE and GRANT, and its restore gave PUBLIC EXECUTE again.  The
# update to 0.11.0 removes those recorded initial privileges (a fresh
# install has none for these functions): the dump holds the grants again,
# and the restored database has them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fix_trainer;
	CREATE DATABASE shop;
});
$node->safe_psql('shop', q{
	CREATE EXTENSION recsys VERSION '0.9.0';
	REVOKE EXECUTE ON FUNCTION recsys.train_fm FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION recsys.train_fm TO regress_recsys_fix_trainer;
	REVOKE EXECUTE ON FUNCTION recsys.train_item_knn FROM PUBLIC;
});
my $acl = q{SELECT string_agg(p.proname || ' ' || coalesce(p.proacl::text, 'default'), ', ' ORDER BY p.proname)
	FROM pg_proc p WHERE p.pronamespace = 'recsys'::regnamespace AND p.proname IN ('train_fm', 'train_item_knn')};
my $expected = 'train_fm {postgres=X/postgres,regress_recsys_fix_trainer=X/postgres}, train_item_knn {postgres=X/postgres}';

sub dumped_grants
{
	my ($db) = @_;
	my $schema = `pg_dump -s -d '@{[ $node->connstr($db) ]}'`;
	return join "\n", map { /^(REVOKE|GRANT) \w+ ON FUNCTION recsys\.(train_fm|train_item_knn)\(.*\) (FROM|TO) (\S+);$/ ? "$1 $2 $4" : () }
	  split /\n/, $schema;
}

$node->safe_psql('shop', q{ALTER EXTENSION recsys UPDATE TO '0.10.0'});
is($node->safe_psql('shop', $acl), $expected, 'the update to 0.10.0 carried the grants over');
is(dumped_grants('shop'), '', 'but 0.10.0\'s dump lacks them (recorded as initial privileges)');

$node->safe_psql('shop', q{ALTER EXTENSION recsys UPDATE});
is($node->safe_psql('shop', $acl), $expected, 'the update to 0.11.0 keeps them');
is($node->safe_psql('shop', q{SELECT count(*) FROM pg_init_privs i JOIN pg_proc p ON p.oid = i.objoid
	WHERE i.classoid = 'pg_proc'::regclass AND p.pronamespace = 'recsys'::regnamespace
	  AND p.proname IN ('train_fm', 'train_item_knn')}), '0', 'and records no initial privileges for them');
is(dumped_grants('shop'), "REVOKE train_fm PUBLIC\nGRANT train_fm regress_recsys_fix_trainer\nREVOKE train_item_knn PUBLIC",
	'the dump holds the DBA\'s REVOKEs and GRANT');

# as a fresh install: no initial privileges for them either
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION recsys');
is($node->safe_psql('fresh', q{SELECT count(*) FROM pg_init_privs i JOIN pg_proc p ON p.oid = i.objoid
	WHERE i.classoid = 'pg_proc'::regclass AND p.pronamespace = 'recsys'::regnamespace
	  AND p.proname IN ('train_fm', 'train_item_knn')}), '0', 'a fresh install records none');

# dump and restore: the restored database has the DBA's grants
my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is($node->safe_psql('restored', $acl), $expected, 'the restored database has them');

$node->stop;
done_testing();
