# A retrain and a refresh_items job on one model (two pg_cron schedules)
# meet: the second to come waits a bounded time for the first to commit
# instead of failing at once with 55P03 (the review saw 3 of 11 retrains
# and 8 of 11 refreshes fail that way):
#
# (a) a retrain waits for an uncommitted retrain and then trains the next
#     version; refresh_items waits for it too, with lock_timeout unset
#     (the default wait, 10 s);
# (b) lock_timeout bounds the wait: at 300 ms the second gets 55P03 with
#     the documented message after about that long, not at once;
# (c) with lock_timeout 0 the wait ends after the default 10 s, not never;
# (d) a cancel during the wait stops it within a second;
# (e) the wait is in the lock manager: pg_locks shows the waiter, the
#     deadlock detector sees two transactions training two models in
#     opposite orders (40P01 for one of them after deadlock_timeout, its
#     CONTEXT naming the model it waited for; not
#     lock_timeout for both), waiters are served in the order they came,
#     statement_timeout still ends the wait with its own error;
# (f) a training that waited reads what the one it waited for committed:
#     source rows it inserted, and that it dropped the model's IVF index
#     (the statement's snapshot, taken before the wait, showed neither);
# (g) in REPEATABLE READ it fails with 40001 instead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::RealBin;
use RecsysTAP;

my $node = PostgreSQL::Test::Cluster->new('training_lock_wait');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev AS SELECT u AS user_id, i AS item_id
		FROM generate_series(1, 40) u, generate_series(1, 20) i WHERE (u + i) % 3 <> 0;
	CREATE TABLE feats (item_id bigint, feature text);
	INSERT INTO feats SELECT i, CASE WHEN i <= 10 THEN 'a' ELSE 'b' END FROM generate_series(1, 20) i;
	SELECT 1 FROM recsys.train_cf('ev', factors => 4, iterations => 2, model => 'm', features => 'feats');
});
my $train = q{SELECT version FROM recsys.train_cf('ev', factors => 4, iterations => 2, model => 'm', features => 'feats')};
my $active = q{SELECT version FROM recsys.models WHERE name = 'm'};
# the training lock of a session, as pg_locks shows it (objsubid RECSYS_LOCK_SPACE)
sub training_lock
{
	my ($pid) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(mode || ':' || granted, ','), 'none') FROM pg_locks "
		  . "WHERE locktype = 'advisory' AND objsubid = 29299 AND pid = $pid");
}

# a session that holds the training lock of m (an uncommitted retrain)
my $holder = $node->background_psql('postgres');
sub hold
{
	$holder->query_safe('BEGIN');
	return $holder->query_safe($train);
}

# run $sql in a new session while the holder commits after $commit_after
# seconds (never if undef); returns (stdout, stderr, seconds)
sub meet
{
	my ($sql, $commit_after) = @_;
	return meet_while_held($node, $holder, $sql, $commit_after, sub {
		my ($pid) = @_;
		is($node->safe_psql('postgres',
			"SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE pid = $pid"),
			'Lock:advisory', 'the second session waits in the lock manager (wait event Lock:advisory)');
		is(training_lock($pid), 'ExclusiveLock:false', 'pg_locks shows it waiting for the training lock');
	});
}

#
# (a) the second waits, then succeeds
#
is(hold(), '2', '(a) an uncommitted retrain holds version 2');
my ($out, $err, $elapsed) = meet("SET lock_timeout = '30s';\n$train", 1);
is($err, '', '(a) a second retrain does not fail');
like($out, qr/^3\n/m, '(a) it trains version 3 once the first commits');
note sprintf('(a) the second retrain returned after %.2f s', $elapsed);
is($node->safe_psql('postgres', $active), '3', '(a) version 3 is active');

is(hold(), '4', '(a) an uncommitted retrain holds version 4');
# a product added meanwhile, which version 4 does not know
$node->safe_psql('postgres', q{INSERT INTO feats VALUES (101, 'a')});
($out, $err, $elapsed) = meet("SELECT recsys.refresh_items('m')", 2);
is($err, '', '(a) refresh_items with lock_timeout 0 (the default wait) does not fail');
note sprintf('(a) refresh_items returned after %.2f s', $elapsed);
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.item_factors WHERE model = 'm' AND version = 4 AND item_id = 101}),
	'1', '(a) and gives the new item a vector in the committed version');

#
# (b) lock_timeout bounds the wait
#
is(hold(), '5', '(b) an uncommitted retrain holds version 5');
($out, $err, $elapsed) = meet("SET lock_timeout = '300ms';\n\\set VERBOSITY verbose\n$train", undef);
like($err, qr/ERROR:  55P03: model "m" is being trained by another session/,
	'(b) with lock_timeout 300ms the second retrain fails with 55P03');
like($err, qr/DETAIL:  Waited 300 ms/, '(b) saying how long it waited');
like($err, qr/HINT:  Wait for that training to finish, raise lock_timeout to wait longer/,
	'(b) and what to do');
unlike($err, qr/canceling statement due to lock timeout/, '(b) not the lock manager\'s own message');
note sprintf('(b) refused after %.2f s', $elapsed);
cmp_ok($elapsed, '>=', 0.3, '(b) after waiting lock_timeout');
cmp_ok($elapsed, '<', 5, '(b) and not much longer');

#
# (c) with lock_timeout 0, the default 10 s
#
($out, $err, $elapsed) = meet("SET lock_timeout = 0;\nSELECT recsys.refresh_items('m')", undef);
like($err, qr/model "m" is being trained by another session/, '(c) refresh_items fails after the default wait');
like($err, qr/DETAIL:  Waited 10000 ms/, '(c) saying so');
note sprintf('(c) refused after %.2f s', $elapsed);
cmp_ok($elapsed, '>=', 10, '(c) of 10 s');
cmp_ok($elapsed, '<', 20, '(c) not more');

#
# (d) a cancel stops the wait
#
{
	my $waiter = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
	$waiter->query_until(qr/started/, "SET lock_timeout = '60s';\n\\echo started\n$train;\n");
	ok($node->poll_query_until('postgres',
			"SELECT wait_event = 'advisory' FROM pg_stat_activity WHERE pid = $pid"),
		'(d) the second retrain waits');
	my $start = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$waiter->{stderr} = '';
	$waiter->query('SELECT 1');
	my $took = time - $start;
	like($waiter->{stderr}, qr/canceling statement due to user request/, '(d) the wait is cancelled');
	note sprintf('(d) cancelled after %.2f s', $took);
	cmp_ok($took, '<', 1.5, '(d) within a second');
	$waiter->quit;
}
$holder->query_safe('ROLLBACK');
is($node->safe_psql('postgres', $active), '4', 'version 4 is still active after the rollback');

#
# (e) in the lock manager: statement_timeout, deadlocks, order of waiters
#
is(hold(), '5', '(e) an uncommitted retrain holds version 5');
($out, $err, $elapsed) = meet("SET lock_timeout = 0;\nSET statement_timeout = '500ms';\n$train", undef);
like($err, qr/canceling statement due to statement timeout/,
	'(e) statement_timeout ends the wait with its own error');
cmp_ok($elapsed, '<', 5, '(e) after statement_timeout, not the 10 s of the training lock');

# two transactions each training a model the other trains next
{
	my @s = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 2;
	my @pid = map { $_->query_safe('SELECT pg_backend_pid()') } @s;
	my $train_model = sub {
		my ($model) = @_;
		return "SELECT version FROM recsys.train_cf('ev', factors => 4, iterations => 2, model => '$model')";
	};
	$s[0]->query_safe('BEGIN');
	$s[0]->query_safe($train_model->('a'));
	$s[1]->query_safe('BEGIN');
	$s[1]->query_safe($train_model->('b'));
	my $start = time;
	$s[0]->query_until(qr/started/, "\\set VERBOSITY verbose\n\\echo started\n" . $train_model->('b') . ";\n");
	ok($node->poll_query_until('postgres', "SELECT " . "count(*) = 1 FROM pg_locks WHERE objsubid = 29299 AND NOT granted AND pid = $pid[0]"),
		'(e) the first transaction waits for model b');
	$s[1]->query_until(qr/started/, "\\set VERBOSITY verbose\n\\echo started\n" . $train_model->('a') . ";\n");
	my @err;
	for my $i (0 .. 1)
	{
		$s[$i]->{stderr} = '';
		$s[$i]->query('SELECT 1');
		push @err, $s[$i]->{stderr};
	}
	my $took = time - $start;
	my @deadlocked = grep { $err[$_] =~ /ERROR:  40P01: deadlock detected/ } 0 .. 1;
	is(scalar @deadlocked, 1, '(e) one of the two gets 40P01 deadlock detected')
	  or diag("first: $err[0]\nsecond: $err[1]");
	my $other = @deadlocked ? 1 - $deadlocked[0] : 0;
	# the lock manager's detail names the advisory tag's numbers only
	my $waited_for = $other == 1 ? 'b' : 'a';
	like(@deadlocked ? $err[$deadlocked[0]] : '',
		qr/ERROR:  40P01: deadlock detected.*\nCONTEXT:  waiting for the training lock of model "$waited_for"/s,
		'(e) the 40P01 names the model whose lock its session waited for');
	unlike($err[$other], qr/ERROR/, '(e) the other one trains its second model');
	note sprintf('(e) deadlock resolved after %.2f s', $took);
	cmp_ok($took, '<', 8, '(e) after deadlock_timeout, not the 10 s wait');
	$_->query('COMMIT') for @s;
	$_->quit for @s;
	is($node->safe_psql('postgres', "SELECT string_agg(name || ':' || version, ',' ORDER BY name) FROM recsys.models WHERE name IN ('a', 'b')"),
		'a:1,b:1', '(e) the survivor committed version 1 of both models');
}

# three waiters are served in the order they came (the lock manager's queue)
{
	my @w;
	for my $i (0 .. 2)
	{
		my $w = $node->background_psql('postgres', on_error_stop => 0);
		my $pid = $w->query_safe('SELECT pg_backend_pid()');
		$w->query_until(qr/started/, "SET lock_timeout = '60s';\n\\echo started\n$train;\n");
		ok($node->poll_query_until('postgres', "SELECT " . "count(*) = 1 FROM pg_locks WHERE objsubid = 29299 AND NOT granted AND pid = $pid"),
			"(e) waiter $i queues");
		push @w, $w;
	}
	$holder->query_safe('COMMIT');
	my @versions;
	for my $w (@w)
	{
		$w->{stderr} = '';
		my $o = $w->query('SELECT 1');
		push @versions, $o =~ /^(\d+)\n/ ? $1 : "error: $w->{stderr}";
		$w->quit;
	}
	is(join(',', @versions), '6,7,8', '(e) the first waiter trains version 6, the second 7, the third 8');
}

#
# (f) what the training waited for is seen: source rows it added and the
# IVF index it dropped
#
$node->safe_psql('postgres', q{SELECT recsys.create_ivf('m', lists => 4)});
is($node->safe_psql('postgres', q{SELECT stats ? 'ivf' FROM recsys.models WHERE name = 'm'}), 't',
	'(f) version 8 has an IVF index');
is(hold(), '9', '(f) an uncommitted retrain holds version 9');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT version) FROM recsys.ivf_lists WHERE model = 'm' AND version = 9}),
	'0', '(f) (its index is not visible before it commits)');
$holder->query_safe(q{INSERT INTO ev SELECT u, i FROM generate_series(41, 45) u, generate_series(1, 5) i});
$holder->query_safe(q{SELECT recsys.drop_ivf('m')});
($out, $err, $elapsed) = meet(q{SELECT version || ':' || n_users || ':' || (stats ? 'ivf')
	FROM recsys.train_cf('ev', factors => 4, iterations => 2, model => 'm', features => 'feats')}, 1);
is($err, '', '(f) the waiting retrain succeeds');
like($out, qr/^10:45:false\n/m,
	'(f) version 10 has the 45 users committed while it waited, and no IVF index (dropped meanwhile)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.ivf_lists WHERE model = 'm' AND version = 10}),
	'0', '(f) no IVF lists were built for version 10');

#
# (g) in REPEATABLE READ the waiter cannot see what it waited for: its
# snapshot is its transaction's, so it fails with 40001 (doc/operations.md)
#
is(hold(), '11', '(g) an uncommitted retrain holds version 11');
($out, $err, $elapsed) = meet("BEGIN ISOLATION LEVEL REPEATABLE READ;\n\\set VERBOSITY verbose\n$train", 1);
like($err, qr/ERROR:  40001: could not serialize access due to concurrent update/,
	'(g) a REPEATABLE READ training that waited fails with 40001');
is($node->safe_psql('postgres', $active), '11', '(g) version 11, the one it waited for, serves');

$holder->quit;
$node->stop;
done_testing();
