# A source changed by a transaction that commits while a read waits for
# its lock: the read must see the change, as a query would.  The reader
# locks the source before any check (privileges, row-level security,
# column types, the choice of read path), so the invalidations of the
# committed change are accepted first.  On the old code the checks ran
# before the lock, on the catalog as it was before the change:
#  - a column's type changed (event column text -> bigint, weight column
#    numeric -> double precision): the heap path, or the numeric
#    conversion on either path, read the new values as the old type
#    (a crash);
#  - row-level security enabled with a policy, and rows the policy hides
#    added: the heap path, chosen while no policy applied, read them all;
#  - SELECT revoked: the heap path read the rows anyway.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('source_lock_race');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE ROLE regress_recsys_fix2a_alice;
	CREATE ROLE regress_recsys_fix2a_bob;
	GRANT CREATE ON DATABASE postgres TO regress_recsys_fix2a_alice;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
		TO regress_recsys_fix2a_alice, regress_recsys_fix2a_bob;
	SET ROLE regress_recsys_fix2a_alice;
	CREATE SCHEMA s;
	GRANT USAGE ON SCHEMA s TO regress_recsys_fix2a_bob;
	-- 10 users, 4 items each, event types '0' and '1'
	CREATE TABLE s.evk AS
		SELECT u::int8 AS user_id, (1 + (u + j) % 6)::int8 AS item_id, (j % 2)::text AS kind
		FROM generate_series(1, 10) u, generate_series(0, 3) j;
	-- 8 users, 3 items each, weight 0.5
	CREATE TABLE s.nw AS
		SELECT u::int8 AS user_id, (1 + (u + j) % 5)::int8 AS item_id, 0.5::numeric AS w
		FROM generate_series(1, 8) u, generate_series(0, 2) j;
	-- 5 users of bob's (ids below 1000), items 1 to 3
	CREATE TABLE s.sec AS
		SELECT u::int8 AS user_id, (1 + u % 3)::int8 AS item_id
		FROM generate_series(1, 5) u;
	GRANT SELECT ON s.sec TO regress_recsys_fix2a_bob;
	CREATE TABLE s.ev AS SELECT u::int8 AS user_id, 1::int8 AS item_id FROM generate_series(1, 20) u;
	GRANT SELECT ON s.ev TO regress_recsys_fix2a_bob;
});

# $change runs as alice (or $changer_role) in an open transaction that takes the source's
# lock; $read starts as $reader and waits for it; the change commits; the
# read's output and errors are returned.
sub race
{
	my ($label, $change, $reader, $read, $table, $changer_role) = @_;
	my $changer = $node->background_psql('postgres');
	$changer->query_safe('SET ROLE ' . ($changer_role // 'regress_recsys_fix2a_alice'));
	$changer->query_safe('BEGIN');
	$changer->query_safe($change);
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_safe("SET ROLE $reader");
	$session->query_until(qr/started/, "\\echo started\n$read;\n");
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) >= 1 FROM pg_locks WHERE NOT granted AND relation = 's.$table'::regclass"),
		"$label: the read waits for the change's lock");
	$changer->query_safe('COMMIT');
	$changer->quit;
	my $out = $session->query('SELECT 1');
	my $err = $session->{stderr};
	$session->quit;
	return ($out, $err);
}

my ($out, $err);

# 1. the event column becomes bigint: read by the executor path (which
# casts it to text), all 10 users
($out, $err) = race('event column to bigint',
	'ALTER TABLE s.evk ALTER COLUMN kind TYPE int8 USING kind::int8',
	'regress_recsys_fix2a_alice',
	q{SELECT n_users, stats->>'read_path' FROM recsys.train_item_knn('s.evk', 5, 'k',
		event_col => 'kind', event_weights => '{"0": 1, "1": 2}')}, 'evk');
like($out, qr/^10\|executor$/m, 'event column to bigint: 10 users, by the executor path');
is($err, '', 'event column to bigint: no error');

# 2. the weight column becomes double precision, on both paths: 8 users
# and 5 items either way (training takes a fresh snapshot after the lock)
for my $fast ('on', 'off')
{
	$node->safe_psql('postgres',
		'SET ROLE regress_recsys_fix2a_alice; ALTER TABLE s.nw ALTER COLUMN w TYPE numeric');
	($out, $err) = race("weight column to double precision, fast_read $fast",
		'ALTER TABLE s.nw ALTER COLUMN w TYPE float8',
		'regress_recsys_fix2a_alice',
		"SET recsys.fast_read = $fast; SELECT n_users, n_items FROM recsys.train_popular('s.nw', 'w_$fast', weight_col => 'w')",
		'nw');
	like($out, qr/^8\|5$/m, "weight column to double precision, fast_read $fast: 8 users, 5 items");
	is($err, '', "weight column to double precision, fast_read $fast: no error");
}

# 2b. the time column becomes text: refused as not a time (the old code
# built its query for a timestamp, which failed on text)
$node->safe_psql('postgres', q{
	SET ROLE regress_recsys_fix2a_alice;
	CREATE TABLE s.tt AS SELECT user_id, item_id, now() - user_id * interval '1 day' AS t FROM s.evk;
});
($out, $err) = race('time column to text',
	'ALTER TABLE s.tt ALTER COLUMN t TYPE text',
	'regress_recsys_fix2a_alice',
	q{SELECT 'trained ' || version FROM recsys.train_popular('s.tt', 'tt', time_col => 't', half_life => '7 days')}, 'tt');
unlike($out, qr/trained/, 'time column to text: no model');
like($err, qr/time_col column "t" has type text, which is not a time/, 'time column to text: refused as not a time');

# 3. row-level security enabled, a policy for bob (users below 1000) and 7
# users he may not see added: bob reads his 5 users only
($out, $err) = race('policy created',
	q{ALTER TABLE s.sec ENABLE ROW LEVEL SECURITY;
	  CREATE POLICY pb ON s.sec FOR SELECT TO regress_recsys_fix2a_bob USING (user_id < 1000);
	  INSERT INTO s.sec SELECT 1000 + i, 99 FROM generate_series(1, 7) i},
	'regress_recsys_fix2a_bob',
	q{SELECT n_users, n_items, stats->>'read_path' FROM recsys.train_popular('s.sec', 'b')}, 'sec');
like($out, qr/^5\|3\|executor$/m, 'policy created: bob reads his 5 users and 3 items, not the hidden ones');
is($err, '', 'policy created: no error');

# 4. SELECT revoked from bob: permission denied
($out, $err) = race('SELECT revoked',
	q{LOCK s.ev IN ACCESS EXCLUSIVE MODE; REVOKE SELECT ON s.ev FROM regress_recsys_fix2a_bob},
	'regress_recsys_fix2a_bob',
	q{SELECT rows_read FROM recsys.source_stats('s.ev')}, 'ev');
unlike($out, qr/^20$/m, 'SELECT revoked: bob reads no row');
like($err, qr/permission denied for (source|table) "?ev"?/, 'SELECT revoked: permission denied');

# 5. a model's source given to another role while the model's reader
# waits: the recorded owner's check sees the new owner and refuses (a
# guard: evaluate already took the lock before that check on the old code)
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fix2a_app;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix2a_app;
	SET ROLE regress_recsys_fix2a_alice;
	CREATE TABLE s.own AS SELECT * FROM s.evk;
	CREATE TABLE s.held_out AS SELECT * FROM s.evk WHERE user_id < 4;
	GRANT USAGE ON SCHEMA s TO regress_recsys_fix2a_app;
	GRANT SELECT ON s.held_out TO regress_recsys_fix2a_app;
	SELECT 1 FROM recsys.train_popular('s.own', 'own');
	SELECT recsys.grant_model('own', 'regress_recsys_fix2a_app');
});
($out, $err) = race('source given away',
	q{ALTER TABLE s.own OWNER TO regress_recsys_fix2a_bob; GRANT SELECT ON s.own TO regress_recsys_fix2a_alice},
	'regress_recsys_fix2a_app',
	q{SELECT 'metrics ' || count(*) FROM recsys.evaluate('own', 's.held_out')}, 'own', 'postgres');
unlike($out, qr/metrics/, 'source given away: no metrics');
like($err, qr/relation s\.own of model "own" is now owned by role "regress_recsys_fix2a_bob"/,
	'source given away: refused, naming the new owner');

$node->safe_psql('postgres', q{
	DROP SCHEMA s CASCADE;
	DELETE FROM recsys.models;
	REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix2a_alice, regress_recsys_fix2a_bob;
	REVOKE CREATE ON DATABASE postgres FROM regress_recsys_fix2a_alice;
	DROP ROLE regress_recsys_fix2a_alice;
	DROP ROLE regress_recsys_fix2a_bob;
	REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix2a_app;
	DROP ROLE regress_recsys_fix2a_app;
});
$node->stop;
done_testing();
