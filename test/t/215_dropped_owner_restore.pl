# A model (experiment, catalog) whose owner or a grantee was dropped is
# not handed, by pg_dump and pg_restore, to whichever role has that OID in
# the restoring cluster (review s8, 1), nor silently left out of the
# backup: pg_dump fails naming it, and after recsys.clean_orphans() the
# objects are dumped, owned by the role the DBA chose.  The restoring
# cluster is built so that a stranger takes the dropped owner's OID, and
# another the dropped grantee's.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = PostgreSQL::Test::Cluster->new('old');
$old->init;
$old->start;
$old->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fixr_carol;
	CREATE ROLE regress_recsys_fixr_dave;
	CREATE ROLE regress_recsys_fixr_app;
	CREATE DATABASE shop;
});
$old->safe_psql('shop', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events (user_id bigint, item_id bigint);
	INSERT INTO events SELECT u, i FROM generate_series(1, 5) u, generate_series(1, u) i;
	GRANT SELECT ON events TO regress_recsys_fixr_carol, regress_recsys_fixr_app;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
		TO regress_recsys_fixr_carol, regress_recsys_fixr_app, regress_recsys_fixr_dave;
	SET ROLE regress_recsys_fixr_carol;
	SELECT 1 FROM recsys.train_popular('public.events', model => 'c_pop');
	SELECT recsys.grant_model('c_pop', 'regress_recsys_fixr_app');
	SELECT 1 FROM recsys.create_experiment('c_exp', '[{"name": "A"}, {"name": "B"}]');
	SET ROLE regress_recsys_fixr_app;
	SELECT 1 FROM recsys.train_popular('public.events', model => 'a_pop');
	SELECT recsys.grant_model('a_pop', 'regress_recsys_fixr_dave');
	SELECT 1 FROM recsys.train_popular('public.events', model => 'kept');
	RESET ROLE;
});
my ($carol, $dave) = split /\|/, $old->safe_psql('shop',
	q{SELECT 'regress_recsys_fixr_carol'::regrole::oid || '|' || 'regress_recsys_fixr_dave'::regrole::oid});
# DROP ROLE is allowed once DROP OWNED has revoked the roles' table
# privileges: the catalog rows are not PostgreSQL objects
$old->safe_psql('shop', 'DROP OWNED BY regress_recsys_fixr_carol, regress_recsys_fixr_dave');
$old->safe_psql('postgres', 'DROP ROLE regress_recsys_fixr_carol; DROP ROLE regress_recsys_fixr_dave');
is($old->safe_psql('shop', q{SELECT string_agg(kind || ' ' || name || ' ' || (owner = ANY (dropped_roles)), ', ') FROM recsys.orphans()}),
	'experiment c_exp true, model a_pop false, model c_pop true', 'orphans() lists what a dropped role left');

my $dump = $old->basedir . '/shop.dump';
my $stderr;
my $result = run_log([ 'pg_dump', '-Fc', '-d', $old->connstr('shop'), '-f', $dump ], '2>', \$stderr);
ok(!$result, 'pg_dump fails while orphans exist');
like($stderr, qr/recsys (model|experiment) "(c_pop|a_pop|c_exp)" cannot be dumped: its owner or a grantee was dropped/,
	'naming one of them');
like($stderr, qr/recsys\.clean_orphans/, 'with the way out in the hint');
is($old->safe_psql('shop', q{SET ROLE regress_recsys_fixr_app; SELECT count(*) FROM recsys.recommend(1, 2, 'a_pop')}), '2',
	'a_pop, whose grantee was dropped, still serves its owner');

# the restoring cluster: strangers take the dropped roles' OIDs
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
$new->start;

sub take_oid
{
	my ($oid, $role) = @_;
	$new->safe_psql('postgres', qq{
		DO \$\$
		DECLARE n int := 0;
		BEGIN
			LOOP
				EXECUTE format('CREATE ROLE regress_recsys_fixr_pad_%s', n);
				EXIT WHEN format('regress_recsys_fixr_pad_%s', n)::regrole::oid >= $oid;
				n := n + 1;
			END LOOP;
			EXECUTE format('ALTER ROLE regress_recsys_fixr_pad_%s RENAME TO $role', n);
		END
		\$\$;
	});
	return $new->safe_psql('postgres', "SELECT '$role'::regrole::oid");
}
my ($first, $second) = $carol < $dave ? ($carol, $dave) : ($dave, $carol);
my %takers = ($carol => 'regress_recsys_fixr_mallory', $dave => 'regress_recsys_fixr_eve');
is(take_oid($first, $takers{$first}), $first, "$takers{$first} has the dropped role's OID $first");
is(take_oid($second, $takers{$second}), $second, "$takers{$second} has the dropped role's OID $second");
$new->safe_psql('postgres', 'CREATE ROLE regress_recsys_fixr_app');

# the DBA's clean-up: orphans given to a live role, dropped grantees removed
is($old->safe_psql('shop', q{SELECT string_agg(kind || ' ' || name || ' ' || owner, ', ' ORDER BY kind, name) FROM recsys.clean_orphans('regress_recsys_fixr_app')}),
	'experiment c_exp regress_recsys_fixr_app, model a_pop regress_recsys_fixr_app, model c_pop regress_recsys_fixr_app',
	'clean_orphans gives them to app');
is($old->safe_psql('shop', 'SELECT count(*) FROM recsys.orphans()'), '0', 'no orphans left');
my ($c_ok, $c_out, $c_err) = $old->psql('shop', q{SET ROLE regress_recsys_fixr_app; SELECT recsys.clean_orphans('regress_recsys_fixr_app')});
like($c_err, qr/permission denied for recsys.clean_orphans/, 'clean_orphans is for superusers');
$result = run_log([ 'pg_dump', '-Fc', '-d', $old->connstr('shop'), '-f', $dump ], '2>', \$stderr);
ok($result, 'pg_dump succeeds once they are cleaned') or diag($stderr);
$new->safe_psql('postgres', 'CREATE DATABASE shop2');
$new->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('shop2'), $dump ], 'pg_restore again');
is($new->safe_psql('shop2', q{SELECT string_agg(name || ' ' || owner || ' ' || grantees::text, ', ' ORDER BY name) FROM recsys.models}),
	'a_pop regress_recsys_fixr_app {}, c_pop regress_recsys_fixr_app {regress_recsys_fixr_app}, kept regress_recsys_fixr_app {}',
	'the cleaned models came back, owned by app');
is($new->safe_psql('shop2', q{SELECT count(*) FROM recsys.item_stats WHERE model = 'c_pop'}), '5', 'with their artefacts');
$new->safe_psql('shop2', 'GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fixr_mallory, regress_recsys_fixr_eve');
is($new->safe_psql('shop2', q{SELECT count(*) FROM recsys.models m
	WHERE m.owner::text IN ('regress_recsys_fixr_mallory', 'regress_recsys_fixr_eve')
	   OR 'regress_recsys_fixr_eve'::regrole = ANY (m.grantees)
	   OR 'regress_recsys_fixr_mallory'::regrole = ANY (m.grantees)}), '0', 'the strangers with the dropped roles\' OIDs got nothing');
is($new->safe_psql('shop2', q{SET ROLE regress_recsys_fixr_mallory; SELECT count(*) FROM recsys.models}), '0',
	'mallory sees no model');
is($new->safe_psql('shop2', q{SELECT count(*) FROM recsys.experiments WHERE owner::text = 'regress_recsys_fixr_app'}), '1',
	'the experiment came back, owned by app');

$old->stop;
$new->stop;
done_testing();
