# Training next to serving, and training against training:
#
# (a) while one session retrains a model in an open transaction, other
#     sessions (new ones, a long-lived one, and pgbench clients) keep
#     getting the previous version's recommendations without errors or
#     waiting, the training session sees its own new version, and after
#     COMMIT every session serves the new version;
# (b) a second session retraining the same model fails with SQLSTATE
#     55P03 once its bounded wait ends (lock_timeout, 100 ms here: see
#     205_training_lock_wait.pl for the wait itself) instead of waiting
#     without end or deadlocking, while another model name trains fine;
#     after the first commits a retrain succeeds;
# (c) a retrain cancelled by pg_cancel_backend (promptly, in the middle of
#     fitting), stopped by statement_timeout or rolled back leaves the
#     previous version active and served, and releases the training lock.
#
# (f) checks that a blend being trained keeps its members from being
# dropped; (b) also checks that no session can block training by taking
# an advisory lock in SQL (the lock is in a space SQL cannot reach).  Two regressions are guarded too, in (b) and (d): model names whose
# 32-bit hashtext collides (the training lock once keyed on it) train
# side by side, and a session that trains the same version number twice
# in one transaction (drop_model in between) serves the second model, not
# a mix of the two (the cache once keyed on now()).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('concurrent');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
});

my $train = "SELECT version FROM recsys.train_cf('events', factors => 8, iterations => 3";

# recommendations for a few users, as one text
my $recs = q{SELECT string_agg(u || ':' || (
		SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id)
		FROM recsys.recommend(u, 10)), ' ' ORDER BY u)
	FROM unnest('{1,2,17,1234,1999}'::bigint[]) u};
my $active = q{SELECT version FROM recsys.models WHERE name = 'default'};

# a fresh session, that must not wait for anything
sub fresh
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', "SET statement_timeout = '20s';\n$sql");
}

is($node->safe_psql('postgres', "$train)"), '1', 'version 1 trained');
my $rec_v1 = fresh($recs);
like($rec_v1, qr/^1:\d+=\S+ 2:/, 'version 1 recommends');

my $reader = $node->background_psql('postgres');
is($reader->query_safe($recs), $rec_v1, 'a long-lived session serves version 1');

#
# (a) serving while a retrain is uncommitted
#
my $trainer = $node->background_psql('postgres', on_error_stop => 0);
$trainer->query_safe('BEGIN');
is($trainer->query_safe("$train, seed => 7)"), '2', '(a) retrain to version 2 in an open transaction');
my $rec_v2 = $trainer->query_safe($recs);
isnt($rec_v2, $rec_v1, '(a) the training session serves its own uncommitted version');

is(fresh($active), '1', '(a) other sessions still see version 1 in recsys.models');
is(fresh($recs), $rec_v1, '(a) a new session serves version 1, without waiting');
is($reader->query_safe($recs), $rec_v1, '(a) the long-lived session still serves version 1');
is(fresh("SELECT count(*) FROM recsys.similar_items(7, 5)") . fresh("SELECT recsys.score(1, 7) IS NOT NULL"),
	'5t', '(a) similar_items and score work meanwhile');

$node->pgbench(
	'--no-vacuum --client=2 --jobs=2 --time=3',
	0,
	[
		qr{number of transactions actually processed: [1-9]\d+},
		qr{number of failed transactions: 0 \(0\.000%\)}
	],
	[qr{^$}],
	'(a) pgbench clients get recommendations during the retrain without failures',
	{
		'005_recommend' => q{
SET statement_timeout = '10s';
\set u random(1, 2000)
SELECT count(*) FROM recsys.recommend(:u, 10);
SELECT recsys.score(:u, :u % 500);
}
	});
is(fresh("SELECT count(*) FROM pg_locks WHERE NOT granted"), '0', '(a) nobody waits on a lock');

$trainer->query_safe('COMMIT');
is(fresh($active), '2', '(a) after COMMIT recsys.models shows version 2');
is(fresh($recs), $rec_v2, '(a) a new session serves version 2');
is($reader->query_safe($recs), $rec_v2, '(a) the long-lived session serves version 2 at its next statement');

#
# (b) two retrains of one model
#
$trainer->query_safe('BEGIN');
is($trainer->query_safe("$train, seed => 11)"), '3', '(b) first retrain holds version 3 uncommitted');

my $start = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '30s';\nSET lock_timeout = '100ms';\n$train, seed => 12)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
my $elapsed = time - $start;
note sprintf('second retrain refused after %.2f s', $elapsed);
isnt($ret, 0, '(b) a second retrain of the same model fails');
like($stderr, qr/ERROR:  55P03: model "default" is being trained by another session/,
	'(b) with SQLSTATE 55P03 and the documented message');
cmp_ok($elapsed, '<', 10, '(b) after its bounded wait, not waiting for the first to finish');

($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '30s';\nSET lock_timeout = '100ms';\nSELECT version FROM recsys.train_item_knn('events', model => 'default')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:  55P03: model "default" is being trained by another session/,
	'(b) training the same name with another algorithm is refused the same way');

is(fresh("$train, model => 'other')"), '1', '(b) another model trains meanwhile');
# m146658 and m246231 share a 32-bit hashtext; the lock must tell them apart.
{
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('BEGIN');
	$holder->query_safe("$train, model => 'm146658')");
	my ($r, $o, $e) = $node->psql('postgres',
		"SET statement_timeout = '30s';\n$train, model => 'm246231')");
	$holder->query_safe('ROLLBACK');
	$holder->quit;
	is($e, '', '(b) a model whose name has the same hashtext trains meanwhile');
}

# No role can keep another from training by taking the training lock in
# SQL: it once was pg_try_advisory_xact_lock(hashtextextended(name, "recs")),
# a key anyone could compute; a session holding that key (or any advisory
# lock) no longer blocks the model.
{
	my $blocker = $node->background_psql('postgres');
	$blocker->query_safe(q{SELECT pg_advisory_lock(hashtextextended('blocked', 1919247219))});
	$blocker->query_safe('BEGIN');
	$blocker->query_safe(q{SELECT pg_advisory_xact_lock(hashtextextended('blocked', 1919247219))});
	my ($r, $o, $e) = $node->psql('postgres',
		"SET statement_timeout = '30s';\n$train, model => 'blocked')");
	$blocker->quit;
	is($e, '', '(b) an advisory lock on the old key does not block training');
	is($r, 0, '(b) the model trains while that lock is held');
}

$trainer->query_safe('COMMIT');
is(fresh($active), '3', '(b) the first retrain committed version 3');
is(fresh("$train, seed => 12)"), '4', '(b) after that commit a retrain succeeds (version 4)');
my $rec_v4 = fresh($recs);
isnt($rec_v4, $rec_v2, '(b) and is served');

#
# (c) a retrain that does not finish
#
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
is($victim->query_safe($recs), $rec_v4, '(c) the victim session serves version 4 first');

# about 25 s of fitting if nothing stops it
$victim->query_until(qr/started/, qq{\\echo started
SELECT version FROM recsys.train_cf('events', factors => 128, iterations => 1000, seed => 13);
});
ok( $node->poll_query_until('postgres',
		"SELECT state = 'active' AND query LIKE '%train_cf%' FROM pg_stat_activity WHERE pid = $victim_pid"),
	'(c) the long retrain is running');
sleep 2;    # well into fitting (reading the source takes milliseconds)
is(fresh($recs), $rec_v4, '(c) version 4 is served during the long retrain');
$start = time;
is(fresh("SELECT pg_cancel_backend($victim_pid)"), 't', '(c) cancel sent');
$victim->{stderr} = '';
my ($out, $failed) = $victim->query('SELECT 1');
$elapsed = time - $start;
note sprintf('cancelled retrain returned %.2f s after pg_cancel_backend', $elapsed);
like($victim->{stderr}, qr/canceling statement due to user request/, '(c) the retrain was cancelled');
cmp_ok($elapsed, '<', 8, '(c) promptly (fitting checks for interrupts)');
$victim->{stderr} = '';

is(fresh($active), '4', '(c) version 4 is still the active version');
is(fresh("SELECT max(version) FROM recsys.model_versions WHERE model = 'default'"), '4',
	'(c) no version 5 was stored');
is(fresh($recs), $rec_v4, '(c) a new session serves version 4');
is($victim->query_safe($recs), $rec_v4, '(c) the cancelled session itself serves version 4');
is(fresh("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), '0',
	'(c) the training lock was released');

# stopped by statement_timeout
$victim->{stderr} = '';
$victim->query(qq{SET statement_timeout = '1s';
SELECT version FROM recsys.train_cf('events', factors => 128, iterations => 1000, seed => 13);
RESET statement_timeout});
like($victim->{stderr}, qr/canceling statement due to statement timeout/,
	'(c) a retrain stopped by statement_timeout errors out');
$victim->{stderr} = '';
is(fresh($active), '4', '(c) and leaves version 4 active');
is($victim->query_safe($recs), $rec_v4, '(c) and served');

# rolled back
$victim->query_safe('BEGIN');
is($victim->query_safe("$train, seed => 14)"), '5', '(c) a retrain inside a transaction');
$victim->query_safe('ROLLBACK');
is(fresh($active), '4', '(c) rolled back, version 4 stays active');
is($victim->query_safe($recs), $rec_v4, '(c) and the session that rolled back serves version 4 again');

# and the lock is free for the next retrain
is(fresh("$train, seed => 15)"), '5', '(c) the next retrain succeeds as version 5');
is($victim->query_safe($active), '5', '(c) and is visible to the other sessions');

#
# (d) a version number reused inside one transaction
#
# The model cache recognises a model by (name, version, trained_at); a
# version trained, served, dropped (or rolled back to a savepoint) and
# trained again in one transaction gets the same version number and the
# same trained_at (now()), so the session keeps the first one's cached
# item factors and mixes them with the second one's user factors, for as
# long as the backend lives.
$victim->query_safe('BEGIN');
is($victim->query_safe("$train, model => 'x', seed => 1)"), '1', '(d) x version 1, seed 1');
$victim->query_safe(q{SELECT count(*) FROM recsys.recommend(1, 10, 'x')});
$victim->query_safe(q{SELECT recsys.drop_model('x')});
is($victim->query_safe("$train, model => 'x', seed => 2)"), '1', '(d) dropped and trained again: x version 1, seed 2');
$victim->query_safe('COMMIT');
my $x_recs = q{SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id)
	FROM recsys.recommend(1, 10, 'x')};
is($victim->query_safe($x_recs), fresh($x_recs),
	'(d) the session that trained serves what a new session serves');

#
# (e) inside one PL/pgSQL block every statement takes a new snapshot: a
# model dropped by another session meanwhile is noticed by the next
# statement of the block, not served from the cache
#
fresh("$train, model => 'y')");
my $blocker = $node->background_psql('postgres', on_error_stop => 0);
$blocker->query_until(qr/started/, q{
	\echo started
	DO $$ BEGIN
		PERFORM recsys.score(1, 5, 'y');
		PERFORM pg_sleep(3);
		PERFORM * FROM recsys.recommend(1, 5, 'y');
	END $$;
});
sleep 1;
fresh("SELECT recsys.drop_model('y')");
# the block's error arrives while the next query is pumped
$blocker->query('SELECT 1');
like($blocker->{stderr}, qr/model "y" does not exist/,
	'(e) a PL/pgSQL block sees a model dropped between its statements');
$blocker->quit;

#
# (f) a blend being trained keeps its members: the member can be retrained
# meanwhile, but drop_model waits for the blend's transaction and then
# refuses (without the lock it would check before the blend commits)
#
is(fresh("$train, model => 'm1')"), '1', '(f) member m1 trained');
$trainer->query_safe('BEGIN');
$trainer->query_safe(q{SELECT 1 FROM recsys.train_blend('{m1}', model => 'bl')});
is(fresh("$train, model => 'm1', seed => 3)"), '2', '(f) retraining a member of a blend in training does not wait');
my $dropper = $node->background_psql('postgres', on_error_stop => 0);
$dropper->query_until(qr/started/, q{
	\echo started
	SELECT recsys.drop_model('m1');
});
sleep 1;
cmp_ok(fresh("SELECT count(*) FROM pg_locks WHERE NOT granted"), '>=', 1,
	'(f) dropping the member waits for the blend being trained');
$trainer->query_safe('COMMIT');
$dropper->query('SELECT 1');
like($dropper->{stderr}, qr/cannot drop model "m1" because blend "bl" uses it/,
	'(f) after the blend commits, the drop is refused');
$dropper->quit;

$victim->quit;
$trainer->quit;
$reader->quit;
$node->stop;
done_testing();
