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
# (d) a cancel during the wait stops it within a second.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

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

# a session that holds the training lock of m (an uncommitted retrain)
my $holder = $node->background_psql('postgres');
sub hold
{
	$holder->query_safe('BEGIN');
	return $holder->query_safe($train);
}

# run $sql in a new session while the holder commits after $commit_after
# seconds (never if undef); returns (exit code, stdout, stderr, seconds)
sub meet
{
	my ($sql, $commit_after) = @_;
	my $waiter = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
	my $start = time;
	$waiter->query_until(qr/started/, "\\echo started\n$sql;\n\\echo finished\n");
	if (defined $commit_after)
	{
		sleep $commit_after;
		is($node->safe_psql('postgres',
			"SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE pid = $pid"),
			'Extension:Extension', 'the second session waits (wait event Extension)');
		$holder->query_safe('COMMIT');
	}
	$waiter->{stderr} = '';
	my $out = $waiter->query('SELECT 1');
	my $elapsed = time - $start;
	my $err = $waiter->{stderr};
	$waiter->quit;
	return ($out, $err, $elapsed);
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
note sprintf('(b) refused after %.2f s', $elapsed);
cmp_ok($elapsed, '>=', 0.3, '(b) after waiting lock_timeout');
cmp_ok($elapsed, '<', 5, '(b) and not much longer');

#
# (c) with lock_timeout 0, the default 10 s
#
($out, $err, $elapsed) = meet("SET lock_timeout = 0;\nSELECT recsys.refresh_items('m')", undef);
like($err, qr/model "m" is being trained by another session/, '(c) refresh_items fails after the default wait');
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
			"SELECT wait_event = 'Extension' FROM pg_stat_activity WHERE pid = $pid"),
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

$holder->quit;
$node->stop;
done_testing();
