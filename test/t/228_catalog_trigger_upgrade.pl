# Review 2 (fixr), finding 10: catalog triggers made under 0.10.0 do not
# check for a unique index on the id column when they fire (those made by
# 0.11.0's catalog_trigger do).  ALTER EXTENSION recsys UPDATE to 0.11.0
# warns about those on tables without such an index, naming the catalog
# and the table, and leaves their writes working; a trigger on a table
# with the index is not named.  Then: run again by its owner (a
# non-superuser role), catalog_trigger makes the checking trigger, and a
# DROP INDEX afterwards makes every write fail with 55000, an existing id
# as a new one, for an INSERT-only role.
#
# Review s11, 3: the update converts the 0.10.0 triggers on tables WITH
# such an index (before, they were left as they were, not checking): the
# same events, columns and enabled state, the second argument 'unique'
# added; a DROP INDEX afterwards makes writes fail with 55000 without the
# owner running catalog_trigger again.  A catalog name with a quote is
# converted too; the triggers stay out of the extension.
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
	CREATE TABLE quoted (id int, title text, price numeric);
	CREATE UNIQUE INDEX quoted_id ON quoted (id);
	INSERT INTO quoted VALUES (1, 'lunch bag', 2);
	SELECT recsys.index_catalog('loose', id_col => 'id', text_cols => '{title}', name => 'loose_cat');
	SELECT recsys.index_catalog('keyed', id_col => 'id', text_cols => '{title}', name => 'keyed_cat');
	SELECT recsys.index_catalog('quoted', id_col => 'id', text_cols => '{title}', name => 'o''brien cat');
	SELECT recsys.catalog_trigger('loose_cat');
	SELECT recsys.catalog_trigger('keyed_cat');
	SELECT recsys.catalog_trigger('o''brien cat');
	DO $$ BEGIN
		EXECUTE format('ALTER TABLE quoted DISABLE TRIGGER %I', 'recsys_catalog_truncate_' || md5('o''brien cat'));
		EXECUTE format('COMMENT ON TRIGGER %I ON quoted IS %L', 'recsys_catalog_' || md5('o''brien cat'), 'keep me, o''brien');
	END $$;
	GRANT INSERT ON loose, keyed, quoted TO regress_recsys_fixr2_user;
});

# each catalog trigger: table, kind, arguments, enabled state, and its
# definition up to the call
my $triggers = q{
	SELECT string_agg(concat_ws(' ', g.tgrelid::regclass,
								CASE WHEN g.tgname LIKE 'recsys_catalog_truncate_%' THEN 'truncate' ELSE 'row' END,
								g.tgnargs, replace(encode(g.tgargs, 'escape'), '\000', '|'), g.tgenabled),
					  E'\n' ORDER BY g.tgrelid::regclass::text, g.tgname)
	FROM pg_trigger g WHERE g.tgfoid = 'recsys._catalog_sync'::regproc};
my $definitions = q{
	SELECT string_agg(regexp_replace(pg_get_triggerdef(g.oid), '_catalog_sync\(.*$', ''),
					  E'\n' ORDER BY g.tgrelid::regclass::text, g.tgname)
	FROM pg_trigger g WHERE g.tgfoid = 'recsys._catalog_sync'::regproc};
is($node->safe_psql('postgres', $triggers), join("\n",
	'keyed row 1 keyed_cat| O', 'keyed truncate 1 keyed_cat| O',
	'loose row 1 loose_cat| O', 'loose truncate 1 loose_cat| O',
	"quoted row 1 o'brien cat| O", "quoted truncate 1 o'brien cat| D"), '0.10.0 made one-argument triggers');
my $defs_before = $node->safe_psql('postgres', $definitions);

my ($rc, $out, $err) = $node->psql('postgres', q{ALTER EXTENSION recsys UPDATE TO '0.11.0'});
is($rc, 0, 'the update succeeds');
like($err, qr/WARNING:  search catalog triggers on tables without a unique index on the id column: catalog 'loose_cat' on public.loose\n/,
	'the update names the 0.10.0 trigger on a table without a unique index');
unlike($err, qr/keyed/, 'a trigger on a table with the index is not named');
like($err, qr/HINT:  Add a unique index on the id column, then run recsys.catalog_trigger/, 'with the hint');
unlike($err, qr/quoted|brien|not converted/, 'nor one on a table with a unique index that is no primary key');

# the triggers on tables with the index were converted: the argument
# 'unique' added, the rest as it was (the disabled one still disabled)
is($node->safe_psql('postgres', $triggers), join("\n",
	'keyed row 2 keyed_cat|unique| O', 'keyed truncate 2 keyed_cat|unique| O',
	'loose row 1 loose_cat| O', 'loose truncate 1 loose_cat| O',
	"quoted row 2 o'brien cat|unique| O", "quoted truncate 2 o'brien cat|unique| D"),
	'the update converts the triggers on tables with a unique index, and only those');
is($node->safe_psql('postgres', $definitions), $defs_before, 'with the same events, columns and timing');
# review s11, R9: a converted trigger keeps its comment (before: dropped)
is($node->safe_psql('postgres', q{SELECT string_agg(g.tgrelid::regclass || ' ' || coalesce(obj_description(g.oid, 'pg_trigger'), '-'), ',' ORDER BY g.tgrelid::regclass::text, g.tgname)
	FROM pg_trigger g WHERE g.tgfoid = 'recsys._catalog_sync'::regproc AND g.tgrelid = 'quoted'::regclass}),
	"quoted keep me, o'brien,quoted -", 'a converted trigger keeps its comment');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.deptype = 'e'}),
	'0', 'no trigger became a member of the extension');
# a converted trigger keeps the catalog current (an UPDATE OF a column it
# does not index, the price, changes nothing) ...
$node->safe_psql('postgres', q{SET ROLE regress_recsys_fixr2_user; INSERT INTO keyed VALUES (2, 'mint tea'); INSERT INTO quoted VALUES (2, 'lunchbag', 3)});
is($node->safe_psql('postgres', q{SELECT string_agg(catalog || ':' || item_id, ',' ORDER BY catalog, item_id)
	FROM recsys.catalog_docs WHERE catalog IN ('keyed_cat', 'o''brien cat')}),
	"keyed_cat:1,keyed_cat:2,o'brien cat:1,o'brien cat:2", 'the converted triggers index writes');
# ... and checks for the index whenever it fires, with no catalog_trigger
# run again: the index dropped, a write is refused (55000)
$node->safe_psql('postgres', q{ALTER TABLE keyed DROP CONSTRAINT keyed_pkey});
my ($krc, $kout, $kerr) = $node->psql('postgres', q{SET ROLE regress_recsys_fixr2_user; INSERT INTO keyed VALUES (1, 'x')});
isnt($krc, 0, 'a converted trigger refuses a write once the index is gone');
like($kerr, qr/ERROR:  catalog "keyed_cat" needs a unique index on column "id" of public.keyed/,
	'naming the missing index');

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
	SELECT recsys.drop_catalog('loose_cat'), recsys.drop_catalog('keyed_cat'), recsys.drop_catalog('o''brien cat');
	DROP TABLE loose, keyed, quoted;
	REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixr2_owner;
	REVOKE CREATE ON SCHEMA public FROM regress_recsys_fixr2_owner;
	DROP ROLE regress_recsys_fixr2_owner;
	DROP ROLE regress_recsys_fixr2_user;
});
$node->stop;
done_testing();
