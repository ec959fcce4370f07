# Review 2 (fixr), finding 10: catalog triggers made under 0.10.0 do not
# check for a unique index on the id column when they fire (those made by
# 0.11.0's catalog_trigger do).  ALTER EXTENSION recsys UPDATE to 0.11.0
# warns about those on tables without such an index, naming the catalog
# and the table, and leaves their writes working; a trigger on a table
# with the index is not named.  Then: run again by its owner (a
# non-superuser role), catalog_trigger makes the checking trigger, and a
# DROP INDEX afterwards makes every write fail with 55000, an existing id
# as a new one, for an INSERT-only role.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RecsysTAP;

my $node = PostgreSQL::Test::Cluster->new('catalog_trigger_upgrade');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fixr2_owner;
	CREATE ROLE regress_recsys_fixr2_user;
	CREATE EXTENSION recsys VERSION '0.10.0';
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fixr2_owner;
	GRANT CREATE ON SCHEMA public TO regress_recsys_fixr2_owner;
	SET ROLE regress_recsys_fixr2_owner;
	CREATE TABLE loose (id bigint, title text);
	INSERT INTO loose VALUES (1, 'red lunch bag'), (2, 'tea light');
	CREATE TABLE keyed (id bigint PRIMARY KEY, title text);
	INSERT INTO keyed VALUES (1, 'green tea');
	SELECT recsys.index_catalog('loose', id_col => 'id', text_cols => '{title}', name => 'loose_cat');
	SELECT recsys.index_catalog('keyed', id_col => 'id', text_cols => '{title}', name => 'keyed_cat');
	SELECT recsys.catalog_trigger('loose_cat');
	SELECT recsys.catalog_trigger('keyed_cat');
	GRANT INSERT ON loose, keyed TO regress_recsys_fixr2_user;
});

my ($rc, $out, $err) = $node->psql('postgres', q{ALTER EXTENSION recsys UPDATE TO '0.11.0'});
is($rc, 0, 'the update succeeds');
like($err, qr/WARNING:  search catalog triggers on tables without a unique index on the id column: catalog 'loose_cat' on public.loose\n/,
	'the update names the 0.10.0 trigger on a table without a unique index');
unlike($err, qr/keyed/, 'a trigger on a table with the index is not named');
like($err, qr/HINT:  Add a unique index on the id column, then run recsys.catalog_trigger/, 'with the hint');

# the old trigger's writes keep working (and keep the catalog current)
$node->safe_psql('postgres', q{SET ROLE regress_recsys_fixr2_user; INSERT INTO loose VALUES (3, 'pink lunch box')});
is($node->safe_psql('postgres', q{SELECT string_agg(item_id::text, ',' ORDER BY item_id)
	FROM recsys.catalog_docs WHERE catalog = 'loose_cat'}), '1,2,3', 'the 0.10.0 trigger still indexes writes');

# the owner adds the index and makes the trigger again: it checks when it fires
$node->safe_psql('postgres', q{
	SET ROLE regress_recsys_fixr2_owner;
	ALTER TABLE loose ADD PRIMARY KEY (id);
	SELECT recsys.catalog_trigger('loose_cat');
	ALTER TABLE loose DROP CONSTRAINT loose_pkey;
});
my @errs;
for my $id (1, 4)
{
	my ($r, $o, $e) = $node->psql('postgres',
		"SET ROLE regress_recsys_fixr2_user; INSERT INTO loose VALUES ($id, 'x')",
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($r, 0, "insert of id $id refused");
	like($e, qr/ERROR:  55000: catalog "loose_cat" needs a unique index on column "id" of public.loose/,
		"id $id: 55000 naming the missing index");
	(my $msg = $e) =~ s/\n.*LOCATION:.*//s;
	push @errs, $msg;
}
is($errs[0], $errs[1], 'an existing id and a new one get the same error');
is($node->safe_psql('postgres', q{SET ROLE regress_recsys_fixr2_owner; SELECT count(*) FROM loose}), '3',
	'nothing was written');

$node->safe_psql('postgres', q{
	SELECT recsys.drop_catalog('loose_cat'), recsys.drop_catalog('keyed_cat');
	DROP TABLE loose, keyed;
	REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixr2_owner;
	REVOKE CREATE ON SCHEMA public FROM regress_recsys_fixr2_owner;
	DROP ROLE regress_recsys_fixr2_owner;
	DROP ROLE regress_recsys_fixr2_user;
});
$node->stop;
done_testing();
