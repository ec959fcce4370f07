# A model (experiment, catalog) whose owner or a grantee was dropped is
# not handed, by pg_dump and pg_restore, to whichever role has that OID in
# the restoring cluster (review s8, 1): such rows stay out of the dump with
# a WARNING, and after recsys.clean_orphans() they are dumped again, owned
# by the role the DBA chose.  The restoring cluster is built so that a
# stranger takes the dropped owner's OID, and another the dropped grantee's.
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
# (pg_dump shows the server's warnings with --verbose; the server log has them too)
my $result = run_log([ 'pg_dump', '-v', '-Fc', '-d', $old->connstr('shop'), '-f', $dump ], '2>', \$stderr);
ok($result, 'pg_dump succeeds');
like($stderr, qr/WARNING:  recsys model "c_pop" is not dumped: its owner or a grantee was dropped/, 'the dump warns about c_pop');
like($stderr, qr/recsys model "a_pop" is not dumped/, 'and about a_pop (a dropped grantee)');
like($stderr, qr/recsys experiment "c_exp" is not dumped/, 'and about c_exp');

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

$new->safe_psql('postgres', 'CREATE DATABASE shop');
$new->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('shop'), $dump ], 'pg_restore');
$new->safe_psql('shop', 'GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fixr_mallory, regress_recsys_fixr_eve');
is($new->safe_psql('shop', q{SELECT string_agg(name || ' ' || owner || ' ' || grantees::text, ', ' ORDER BY name) FROM recsys.models}),
	'kept regress_recsys_fixr_app {}', 'only the model with live roles came back');
is($new->safe_psql('shop', q{SELECT count(*) FROM recsys.models m
	WHERE m.owner::text IN ('regress_recsys_fixr_mallory', 'regress_recsys_fixr_eve')
	   OR 'regress_recsys_fixr_eve'::regrole = ANY (m.grantees)}), '0', 'the strangers got nothing');
is($new->safe_psql('shop', q{SELECT count(*) FROM recsys.experiments}), '0', 'nor an experiment');
is($new->safe_psql('shop', q{SET ROLE regress_recsys_fixr_mallory; SELECT count(*) FROM recsys.models}), '0',
	'mallory sees no model');

# the DBA's clean-up: orphans given to a live role, dropped grantees removed
is($old->safe_psql('shop', q{SELECT string_agg(kind || ' ' || name || ' ' || owner, ', ') FROM recsys.clean_orphans('regress_recsys_fixr_app')}),
	'experiment c_exp regress_recsys_fixr_app, model a_pop regress_recsys_fixr_app, model c_pop regress_recsys_fixr_app',
	'clean_orphans gives them to app');
is($old->safe_psql('shop', 'SELECT count(*) FROM recsys.orphans()'), '0', 'no orphans left');
my ($c_ok, $c_out, $c_err) = $old->psql('shop', q{SET ROLE regress_recsys_fixr_app; SELECT recsys.clean_orphans('regress_recsys_fixr_app')});
like($c_err, qr/permission denied for recsys.clean_orphans/, 'clean_orphans is for superusers');
$result = run_log([ 'pg_dump', '-Fc', '-d', $old->connstr('shop'), '-f', $dump ], '2>', \$stderr);
ok($result && $stderr !~ /WARNING/, 'pg_dump without warnings');
$new->safe_psql('postgres', 'CREATE DATABASE shop2');
$new->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('shop2'), $dump ], 'pg_restore again');
is($new->safe_psql('shop2', q{SELECT string_agg(name || ' ' || owner || ' ' || grantees::text, ', ' ORDER BY name) FROM recsys.models}),
	'a_pop regress_recsys_fixr_app {}, c_pop regress_recsys_fixr_app {regress_recsys_fixr_app}, kept regress_recsys_fixr_app {}',
	'the cleaned models came back, owned by app');
is($new->safe_psql('shop2', q{SELECT count(*) FROM recsys.item_stats WHERE model = 'c_pop'}), '5', 'with their artefacts');

$old->stop;
$new->stop;
done_testing();
