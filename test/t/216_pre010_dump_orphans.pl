# A dump made before 0.10.0 (whose pg_dump did not refuse objects of a
# dropped role) writes the dropped owner or grantee as its bare OID: the
# dump holds no name to look the role up by.  Restored, such an OID named
# no role (an object nobody owns, or, where a role of the restoring
# cluster has that OID, a stranger's).  Since 0.11.0 the restore refuses
# such a row (42704, naming the object and the OID) unless the DBA names
# the role to give these objects to (recsys.restore_orphans_to, as
# clean_orphans would); the other objects come back as they were, by
# name.  The dump is made with the 0.9.0 scripts of this install.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = PostgreSQL::Test::Cluster->new('old');
$old->init;
$old->start;
$old->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fix_carol;
	CREATE ROLE regress_recsys_fix_dave;
	CREATE ROLE regress_recsys_fix_app;
	CREATE DATABASE shop;
});
$old->safe_psql('shop', q{
	CREATE EXTENSION recsys VERSION '0.9.0';
	-- by construction: item 1 is the most popular
	CREATE TABLE events (user_id bigint, item_id bigint);
	INSERT INTO events SELECT u, i FROM generate_series(1, 5) u, generate_series(1, u) i;
	GRANT SELECT ON events TO regress_recsys_fix_carol, regress_recsys_fix_app;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
		TO regress_recsys_fix_carol, regress_recsys_fix_app, regress_recsys_fix_dave;
	SET ROLE regress_recsys_fix_carol;
	SELECT 1 FROM recsys.train_popular('public.events', model => 'c_pop');
	SELECT recsys.grant_model('c_pop', 'regress_recsys_fix_app');
	SELECT 1 FROM recsys.create_experiment('c_exp', '[{"name": "A"}, {"name": "B"}]');
	SET ROLE regress_recsys_fix_app;
	SELECT 1 FROM recsys.train_popular('public.events', model => 'a_pop');
	SELECT recsys.grant_model('a_pop', 'regress_recsys_fix_dave');
	SELECT 1 FROM recsys.train_popular('public.events', model => 'kept');
	RESET ROLE;
});
my ($carol, $dave) = split /\|/, $old->safe_psql('shop',
	q{SELECT 'regress_recsys_fix_carol'::regrole::oid || '|' || 'regress_recsys_fix_dave'::regrole::oid});
$old->safe_psql('shop', 'DROP OWNED BY regress_recsys_fix_carol, regress_recsys_fix_dave');
$old->safe_psql('postgres', 'DROP ROLE regress_recsys_fix_carol; DROP ROLE regress_recsys_fix_dave');

my $dump = $old->basedir . '/shop.dump';
$old->command_ok([ 'pg_dump', '-Fc', '-d', $old->connstr('shop'), '-f', $dump ],
	'0.9.0 dumps the objects of the dropped roles');
# doc/operations.md's check of a dump before restoring it (its text; in
# q{}, \\ is one backslash): the objects whose owner or grantees the
# dump holds as bare OIDs
my $check = q{pg_restore -a -t models -t experiments -t catalogs -f - '%s' | awk -F'\t' '
  /^COPY /{ t = $0; sub(/^COPY /, "", t); sub(/ .*/, "", t); h = $0; sub(/^[^(]*\(/, "", h); sub(/\).*/, "", h);
            n = split(h, c, ", "); o = g = 0; for (i = 1; i <= n; i++) { if (c[i] == "owner") o = i; if (c[i] == "grantees") g = i } next }
  /^\\\\\\.$/ { o = 0; next }
  o && ($o ~ /^[0-9]+$/ || $g ~ /[{,][0-9]+[,}]/) { print t, $1, $o, $g }'};
my $listed = join "\n", sort split /\n/, `@{[ sprintf($check, $dump) ]}`;
is($listed, "recsys.experiments c_exp $carol {}\nrecsys.models a_pop regress_recsys_fix_app {$dave}\n"
	. "recsys.models c_pop $carol {regress_recsys_fix_app}",
	'the documented check lists the objects the dump holds bare OIDs for');

# the restoring cluster: the dropped roles' OIDs are nobody's
my $new = PostgreSQL::Test::Cluster->new('new');
$new->init;
$new->start;
# (a fresh cluster hands out the same OIDs in the same order: databases
# first here, so that the dropped roles' OIDs are not roles)
$new->safe_psql('postgres', 'CREATE DATABASE shop2');
$new->safe_psql('postgres', 'CREATE DATABASE shop3');
$new->safe_psql('postgres', 'CREATE ROLE regress_recsys_fix_app; CREATE ROLE regress_recsys_fix_keeper');
is($new->safe_psql('postgres', qq{SELECT count(*) FROM pg_roles WHERE oid IN ($carol, $dave)}), '0',
	'no role of the restoring cluster has the dropped roles\' OIDs');

my ($out, $err) = ('', '');
my $ok = run_log([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('shop2'), $dump ], '>', \$out, '2>', \$err);
ok(!$ok, 'pg_restore refuses the rows naming a role OID nobody has');
like($err, qr/recsys (model|experiment) "(a_pop|c_pop|c_exp)" names role OID ($carol|$dave) as its (owner|grantee), and no role has that OID/,
	'naming the object and the OID');
like($err, qr/recsys\.restore_orphans_to/, 'with the way out in the hint');

# the way out: name the role that takes them
{
	local $ENV{PGOPTIONS} = '-c recsys.restore_orphans_to=regress_recsys_fix_keeper';
	$ok = run_log([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('shop3'), $dump ], '>', \$out, '2>', \$err);
}
ok($ok, 'pg_restore with recsys.restore_orphans_to succeeds') or diag($err);
my $log = slurp_file($new->logfile);
like($log, qr/WARNING:  recsys model "c_pop" named role OIDs \{$carol\} that no role has: given to role regress_recsys_fix_keeper/,
	'saying what it gave away');
like($log, qr/WARNING:  recsys model "a_pop" named role OIDs \{$dave\} that no role has: left out of its grantees/,
	'and which grantees it left out');
is($new->safe_psql('shop3', q{SELECT string_agg(name || ' ' || owner || ' ' || grantees::text, ', ' ORDER BY name) FROM recsys.models}),
	'a_pop regress_recsys_fix_app {}, c_pop regress_recsys_fix_keeper {regress_recsys_fix_app}, kept regress_recsys_fix_app {}',
	'carol\'s model is keeper\'s, dave\'s grant is gone, the others are as dumped');
is($new->safe_psql('shop3', q{SELECT string_agg(name || ' ' || owner, ', ') FROM recsys.experiments}),
	'c_exp regress_recsys_fix_keeper', 'carol\'s experiment is keeper\'s');
is($new->safe_psql('shop3', 'SELECT count(*) FROM recsys.orphans()'), '0', 'nothing restored names a role nobody has');
$new->safe_psql('shop3', 'GRANT SELECT ON ALL TABLES IN SCHEMA recsys, public TO regress_recsys_fix_keeper');
is($new->safe_psql('shop3', q{SET ROLE regress_recsys_fix_keeper; SELECT item_id FROM recsys.recommend(99, 1, 'c_pop')}),
	'1', 'keeper serves it (item 1 by construction)');
# trainers insert the caller's own role: a setting left behind changes nothing
is($new->safe_psql('shop3', q{SET recsys.restore_orphans_to = 'regress_recsys_fix_keeper';
	SELECT 1 FROM recsys.train_popular('public.events', model => 'new_pop');
	SELECT owner FROM recsys.models WHERE name = 'new_pop'}), "1\npostgres", 'training is not affected');

$old->stop;
$new->stop;
done_testing();
