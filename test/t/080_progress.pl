# recsys.progress: a second session sees a training run while it runs
# (phase, iteration of N, loss, elapsed, remaining), sees tune's candidate
# i of N, sees only the pid of another role's run, and the row goes when
# the run ends, is cancelled, or fails.  SET recsys.progress = on prints
# the phases and iterations as NOTICE lines.  No shared_preload_libraries:
# the state lives in the core's per-backend progress counters.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(sleep time);

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE blocks AS
		SELECT u AS user_id, 100 + 16 * ((u - 1) / 32) + j AS item_id
		FROM generate_series(1, 256) u, generate_series(0, 15) j WHERE j <> u % 16;
	-- a source that takes two seconds to read
	CREATE VIEW slow AS SELECT b.user_id, b.item_id FROM blocks b, pg_sleep(2) s;
	CREATE ROLE regress_recsys_prog_trainer LOGIN;
	CREATE ROLE regress_recsys_prog_watcher LOGIN;
	GRANT SELECT ON blocks TO regress_recsys_prog_trainer;
	-- (the recsys tables, as doc/operations.md grants them: training checks them before it starts)
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_prog_trainer;
});
is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'recsys is not preloaded');

# Starts psql running $sql in the background (as $user), returns the
# harness and refs to its output.
my $sessions = 0;

sub start_session
{
	my ($sql, $user) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres'));
	push @cmd, ('-U', $user) if $user;
	# from a file: statement by statement, on after an error
	my $file = $node->basedir . '/session_' . ++$sessions . '.sql';
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $sql;
	close($fh);
	my $h = IPC::Run::start([ @cmd, '-f', $file ], '>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

# Polls $query until it returns something other than '' (30 s at most),
# as $user if given, from one session kept open: a new psql per poll
# took tens of milliseconds on a quick machine (hundreds here at load
# 10), near the length of the shortest states polled for (tune's
# candidate 2 fits for about 1.2 s at load 10 here, perhaps 0.1 s on a
# quick idle machine), which a poll could then miss.
my $watcher;

sub poll
{
	my ($query, $user) = @_;
	$watcher //= $node->background_psql('postgres');
	$watcher->query_safe($user ? "SET ROLE $user" : 'RESET ROLE');
	my $deadline = time + 30;
	while (time < $deadline)
	{
		my $got = $watcher->query_safe($query);
		return $got if $got ne '';
		sleep 0.01;
	}
	return '';
}

# 1. A training run seen from another session, then cancelled.
my ($h, $out, $err) = start_session(q{
	SELECT name FROM recsys.train_bpr('blocks', factors => 8, iterations => 10000, model => 'long');
	SELECT 'after cancel: ' || count(*) FROM recsys.progress WHERE pid = pg_backend_pid();
	SELECT pg_sleep(1);
	SELECT 'still here';
});
my $row = poll(q{SELECT pid, command, model, algorithm, phase, iteration, iterations,
	elapsed > '0'::interval, remaining IS NOT NULL, started <= clock_timestamp()
	FROM recsys.progress WHERE phase = 'fitting' AND iteration > 0});
my @f = split /\|/, $row;
like($f[0], qr/^\d+$/, 'another session sees the training: its pid');
is_deeply([ @f[1 .. 4] ], [ 'train', 'long', 'bpr', 'fitting' ], 'command, model, algorithm, phase');
cmp_ok($f[5], '>', 0, 'iterations done');
is($f[6], '10000', 'of N');
is_deeply([ @f[7 .. 9] ], [ 't', 't', 't' ], 'elapsed, remaining, started');
my $later = poll("SELECT iteration FROM recsys.progress WHERE pid = $f[0] AND iteration > $f[5]");
cmp_ok($later, '>', $f[5], 'the iteration advances');
is( $node->safe_psql('postgres', "SET ROLE regress_recsys_prog_watcher;
	SELECT pid, model IS NULL AND phase IS NULL AND iteration IS NULL FROM recsys.progress"),
	"$f[0]|t", 'another role sees the pid only');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($f[0])");
poll("SELECT 1 FROM pg_stat_activity WHERE pid = $f[0] AND query LIKE '%pg_sleep(1)%'");
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.progress WHERE pid = $f[0]"),
	'0', 'no row left after a cancel while the session lives on');
$h->finish;
like($$err, qr/canceling statement due to user request/, 'the training was cancelled');
like($$out, qr/after cancel: 0\n\n?still here/, 'the cancelled session sees no row of its own');

# 2. Reading the source, then done: the row goes with the call.
($h, $out, $err) = start_session(q{
	SELECT name FROM recsys.train_ease('slow', 10, model => 'slow');
	SELECT 'after: ' || count(*) FROM recsys.progress WHERE pid = pg_backend_pid();
});
# (the row exists from RsTrainBegin on: wait past its first phase, starting)
$row = poll(q{SELECT model, algorithm, phase, iteration IS NULL FROM recsys.progress WHERE phase <> 'starting'});
is($row, 'slow|ease|reading source|t', 'the phase reading source, no iterations for EASE');
$h->finish;
is($$out, "slow\nafter: 0\n", 'trained; no row after the call');

# 2b. item-kNN reports the rows whose lists are built, of all items.
$node->safe_psql('postgres', q{
	CREATE TABLE wide AS SELECT u AS user_id, (u * 7 + j * 13) % 4000 AS item_id
	FROM generate_series(1, 40000) u, generate_series(1, 40) j});
# A session holding SHARE on the lists' table stops the training at its
# first write, so the count is seen however fast the machine fits (on a
# quiet machine the whole training once ended between two polls).
my ($lock_h, $lock_out, $lock_err) = start_session(q{
	BEGIN;
	LOCK TABLE recsys.item_neighbor_lists IN SHARE MODE;
	SELECT pg_sleep(120);
	ROLLBACK;
});
poll(q{SELECT 1 FROM pg_locks WHERE relation = 'recsys.item_neighbor_lists'::regclass
	AND mode = 'ShareLock' AND granted});
($h, $out, $err) = start_session(q{
	SELECT name FROM recsys.train_item_knn('wide', model => 'knn');
});
# (the first poll that sees a count may already be in the writing phase,
# which keeps the count; the time left is estimated while fitting)
$row = poll(q{SELECT iterations, iteration <= iterations, phase <> 'fitting' OR remaining IS NOT NULL
	FROM recsys.progress WHERE algorithm = 'item_knn' AND iteration > 0});
is($row, '4000|t|t', 'item_knn: rows built of all items');
$node->safe_psql('postgres', q{
	SELECT pg_cancel_backend(l.pid) FROM pg_locks l
	WHERE l.relation = 'recsys.item_neighbor_lists'::regclass AND l.mode = 'ShareLock' AND l.granted});
$lock_h->finish;
$h->finish;
is($$out, "knn\n", 'item_knn trained');

# 3. A failed training leaves no row either.
is($node->psql('postgres', q{
	SELECT recsys.train_bpr('blocks', factors => 8, iterations => 2, model => 'bad', learning_rate => 10,
							regularization => 0)}), 3, 'a diverging training fails');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM recsys.progress}), '0', 'no row after the error');
$node->safe_psql('postgres', q{
	DO $$ BEGIN
		PERFORM recsys.train_bpr('blocks', factors => 8, iterations => 2, model => 'bad',
								 learning_rate => 10, regularization => 0);
	EXCEPTION WHEN data_exception THEN NULL;
	END $$;
	SELECT 1 FROM recsys.train_popular('blocks', model => 'pop');
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.progress}), '0',
	'an error caught in a subtransaction, then a training: nothing left');

# 4. tune: candidate i of N, under tune's model name.
($h, $out, $err) = start_session(q{
	SELECT count(*) FROM recsys.tune('bpr', 'blocks', 'blocks', '{"factors": [4, 8, 16]}',
									 '{"iterations": 1500}', model => 'tuned');
	SELECT 'after: ' || count(*) FROM recsys.progress WHERE pid = pg_backend_pid();
});
$row = poll(q{SELECT command, model, algorithm, candidates, phase FROM recsys.progress
	WHERE candidate = 2 AND iteration > 0});
is($row, 'tune|tuned|bpr|3|fitting', 'tune: candidate 2 of 3 fitting, under its own name');
$row = poll(q{SELECT phase, remaining IS NOT NULL FROM recsys.progress WHERE phase LIKE 'keeping the best%'});
like($row, qr/^keeping the best: \w+/, 'then the best is retrained');
$h->finish;
is($$out, "3\nafter: 0\n", 'tune done; no row after');

# 5. Another role's own run: its role sees the details.
($h, $out, $err) = start_session(q{
	SELECT name FROM recsys.train_bpr('blocks', factors => 8, iterations => 3000, model => 'theirs');
}, 'regress_recsys_prog_trainer');
$row = poll(q{SELECT model, usename FROM recsys.progress WHERE iteration > 0}, 'regress_recsys_prog_trainer');
is($row, 'theirs|regress_recsys_prog_trainer', 'the role sees its own run');
$h->finish;

# 6. NOTICE lines: phases and iterations with recsys.progress = on, none
# without; verbose => true prints the iterations alone.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET recsys.progress = on;
	SELECT name FROM recsys.train_cf('blocks', factors => 4, iterations => 3, model => 'cf');
});
my @lines = $stderr =~ /NOTICE:  (train_cf[^\n]*)/g;
is_deeply([ map { s/[\d.]+ s$/S s/r } @lines ],
	[ 'train_cf of model "cf": reading source', 'train_cf of model "cf": fitting',
	  'train_cf epoch 1 of 3', 'train_cf epoch 2 of 3', 'train_cf epoch 3 of 3',
	  'train_cf of model "cf": writing model', 'train_cf of model "cf": done in S s' ],
	'recsys.progress = on: a line per phase and per iteration');
like($stderr, qr/DETAIL:  \d+\.\d{3} s in this epoch, about \d+\.\d s left\./, 'seconds and time left');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SELECT name FROM recsys.train_cf('blocks', factors => 4, iterations => 3, model => 'cf')});
is($stderr, '', 'no NOTICE by default');
($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET recsys.progress = on;
	SELECT count(*) FROM recsys.tune('ease', 'blocks', 'blocks', '{"regularization": [10, 100]}', model => 'te');
});
like($stderr, qr/tune of model "te": candidate 1 of 2.*candidate 2 of 2.*training the best of 2 candidates.*tune of model "te": done in/s,
	'tune reports its candidates');

$watcher->quit;
$node->safe_psql('postgres', q{
	SELECT recsys.drop_model(name) FROM recsys.models WHERE owner = 'regress_recsys_prog_trainer'::regrole;
	REVOKE ALL ON blocks FROM regress_recsys_prog_trainer;
	REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_prog_trainer;
	DROP ROLE regress_recsys_prog_trainer;
	DROP ROLE regress_recsys_prog_watcher;
});
$node->stop;
done_testing();
