# A DBA's own row-level security policy on an artefact table holds for
# every row a training writes, whichever write path (review s8b, 2): the
# bulk path checked only row 0's INSERT, which holds for recsys's policies
# (they depend on the model) but not for a DBA's, which may test any
# column.  With a restrictive INSERT policy on user_factors for one role
# (alice: user_id <= 100), two non-superuser roles train:
#  1. alice's training of users 1..200 fails with the policy's error with
#     recsys.bulk_write on (pages on and off) as with it off, and the
#     model is not created;
#  2. alice's training of users 1..100 (every row passes, by construction)
#     succeeds, its user_factors written by INSERT (DEBUG1), all 100 rows;
#  3. bob, whom the policy does not name, trains users 1..200;
#  4. with the policy dropped, alice's rows go in bulk again;
#  5. recsys's own model_owners rewritten to read user_id counts as a
#     DBA's (policies are not extension members: told by name and columns).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('policies');
$node->init;
$node->start;
my ($alice, $bob) = ('regress_recsys_fixw_alice', 'regress_recsys_fixw_bob');
$node->safe_psql('postgres', qq{
	CREATE EXTENSION recsys;
	CREATE ROLE $alice LOGIN;
	CREATE ROLE $bob LOGIN;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO $alice, $bob;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
		FROM generate_series(1, 200) u, generate_series(1, 6) j;
	CREATE VIEW events_100 AS SELECT * FROM events WHERE user_id <= 100;
	GRANT SELECT ON events, events_100 TO $alice, $bob;
	CREATE POLICY dba_limit ON recsys.user_factors AS RESTRICTIVE FOR INSERT
		TO $alice WITH CHECK (user_id <= 100);
});

# Train $model from $source as $role: "stdout|the path user_factors took
# (DEBUG1)|stderr's ERROR line".
sub train
{
	my ($role, $model, $source, $bulk, $pages) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET ROLE $role;
		SET recsys.bulk_write = $bulk;
		SET recsys.bulk_write_pages = $pages;
		SET client_min_messages = debug1;
		SELECT 1 FROM recsys.train_cf('$source', factors => 4, iterations => 1, model => '$model');
	});
	my ($path) = $err =~ /recsys: wrote \d+ rows of user_factors (in bulk|by INSERT)/;
	my ($error) = $err =~ /ERROR:\s+(.*)/;
	return join('|', $out, $path // '', $error // '');
}

sub user_rows
{
	my ($model) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ' ' || coalesce(max(user_id), 0) FROM recsys.user_factors WHERE model = '$model'");
}

my $violation = 'new row violates row-level security policy "dba_limit" for table "user_factors"';
foreach my $setting (['on', 'on'], ['on', 'off'], ['off', 'on'])
{
	my ($bulk, $pages) = @$setting;
	like(train($alice, "a_$bulk$pages", 'events', $bulk, $pages), qr/\|\Q$violation\E$/,
		"alice's user 101 is refused by the DBA's policy (bulk_write $bulk, pages $pages)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.models WHERE name = 'a_$bulk$pages'"),
		'0', "and no model a_$bulk$pages");
}

is(train($alice, 'a_100', 'events_100', 'on', 'on'), '1|by INSERT|',
	'alice\'s users 1..100 pass the policy, written by INSERT');
is(user_rows('a_100'), '100 100', 'all of them');
is(train($bob, 'b_200', 'events', 'on', 'on'), '1|by INSERT|',
	'bob, whom the policy does not name, trains users 1..200');
is(user_rows('b_200'), '200 200', 'all of them');

$node->safe_psql('postgres', 'DROP POLICY dba_limit ON recsys.user_factors');
is(train($alice, 'a_200', 'events', 'on', 'on'), '1|in bulk|',
	'without the DBA\'s policy alice\'s rows go in bulk');
is(user_rows('a_200'), '200 200', 'all of them');

# recsys's own policy rewritten by the DBA to read user_id is a DBA's too
$node->safe_psql('postgres', q{
	ALTER POLICY model_owners ON recsys.user_factors
		WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)) AND user_id <= 100)});
like(train($alice, 'a_altered', 'events', 'on', 'on'),
	qr/\|new row violates row-level security policy for table "user_factors"$/,
	'a rewritten model_owners that reads user_id is checked on every row');
is(train($alice, 'a_altered', 'events_100', 'on', 'on'), '1|by INSERT|', 'by INSERT');

$node->safe_psql('postgres', qq{
	SELECT recsys.drop_model(name) FROM recsys.models;
	DROP OWNED BY $alice, $bob;
	DROP ROLE $alice;
	DROP ROLE $bob;
});
$node->stop;
done_testing();
