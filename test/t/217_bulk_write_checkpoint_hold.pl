# The bulk page write's checkpoint hold (src/heap_append.c), tested
# without injection points (PostgreSQL 15 has none).  From log_newpages
# to the group's last smgrextend the training's backend holds a
# checkpoint's start off (DELAY_CHKPT_START): a checkpoint whose redo
# point passed the page images before the pages reached the file would
# neither replay them nor find them in a buffer, and a base backup taken
# with it would lack them (review s8b, 1: a standby made from such a
# backup had 1 of 2,000 rows and failed reading a block).
#
# 1. The training's backend is stopped (SIGSTOP) inside that window: on
#    the CPU (no wait event) while it holds item_stats' extension lock,
#    which only the page write holds that long (pg_locks), and which it
#    holds only inside the hold (since s14: a stop in the block-number
#    loop before the hold once made the backup finish); with
#    wal_compression, compressing a group's page images is most of the
#    window.  A base backup
#    (CHECKPOINT fast) started then must wait for the pages, finish soon
#    after the backend goes on, and a standby made from it must have
#    every row.  On a build without the hold the backup finishes while
#    the backend is stopped and the standby lacks rows: this part fails.
# 2. A CHECKPOINT loop runs through a whole bulk write, then the server
#    crashes (immediate stop) and restarts: the model is intact, and no
#    checkpoint took long (the hold delays a checkpoint by one group's
#    write at most).  A crash keeps the operating system's page cache, so
#    this part cannot tell a build without the hold; it checks that the
#    hold neither loses nor blocks.
#
# Part 1 stops a backend with SIGSTOP and must tell when the kernel has
# stopped it: from /proc/PID/stat on Linux, else from ps -o state=
# (BSD, macOS, Solaris).  Where neither tells, or there is no SIGSTOP
# (Windows), the test skips, saying why (review s11, 4: it died reading
# /proc elsewhere).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

# whether process $pid is stopped (state T), by /proc or by ps; undef
# when neither can tell
sub process_state_stopped
{
	my ($pid) = @_;
	if (-r "/proc/$pid/stat")
	{
		return slurp_file("/proc/$pid/stat") =~ /^\d+ \(.*\) T /s ? 1 : 0;
	}
	my $state = `ps -o state= -p $pid 2>/dev/null`;
	return undef if $? != 0 || !defined $state || $state !~ /\S/;
	return $state =~ /^\s*T/ ? 1 : 0;
}

plan skip_all => 'stopping a backend needs SIGSTOP, which Windows lacks' if $windows_os;
{
	# can this system tell a stopped process?  (a child stopped and
	# continued: /proc or ps must see both states)
	my $child = fork();
	die "fork: $!" unless defined $child;
	if ($child == 0) { sleep 0.05 while 1; exit 0; }
	my $running = process_state_stopped($child);
	kill 'STOP', $child;
	my $stopped;
	for (1 .. 200)
	{
		$stopped = process_state_stopped($child);
		last if $stopped;
		sleep 0.005;
	}
	kill 'KILL', $child;
	kill 'CONT', $child;
	waitpid($child, 0);
	plan skip_all => 'cannot tell a stopped process here (neither /proc/PID/stat nor ps -o state=)'
	  unless defined $running && defined $stopped && !$running && $stopped;
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# wal_compression: compressing a group's page images is most of the window
$primary->append_conf('postgresql.conf', "wal_compression = pglz\nshared_buffers = 128MB\nmax_wal_size = 1GB\n");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	-- 300,000 items, one row each: item_stats' bulk write is most of the training
	CREATE TABLE ev AS SELECT i % 1000 AS user_id, i AS item_id FROM generate_series(1, 300000) i;
	SET recsys.bulk_write = on;
	SELECT 1 FROM recsys.train_popular('ev', model => 'hold');
});
my $train = q{SET recsys.bulk_write = on; SELECT 1 FROM recsys.train_popular('ev', model => 'hold');};
is($primary->safe_psql('postgres', q{SELECT count(*) FROM recsys.item_stats WHERE model = 'hold'}), '300000',
	'the model has 300,000 item_stats rows');

my $mon = $primary->background_psql('postgres');
# (each query restarts the session's timer: the polling below may take
# minutes on a loaded machine, bounded by its own deadlines; a clean-clone
# CI once died on the timer's 180 s from the session's start)
$mon->set_query_timer_restart();

# Start the training and stop its backend inside the window; returns its
# pid and whether it was caught there (not if the training ended first).
sub stop_in_window
{
	my ($trainer) = @_;
	my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
	$trainer->query_until(qr/go/, "\\echo go\n$train\n");
	my $deadline = time + 120;
	while (time < $deadline)
	{
		my $event = $mon->query_safe("SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = $pid");
		last if $event eq 'ClientRead';    # the training ended: none caught
		next unless $event eq '';
		kill 'STOP', $pid;
		# (stopped once the kernel says so)
		for (1 .. 100)
		{
			last if process_state_stopped($pid);
			sleep 0.005;
		}
		# on the CPU (no wait event: no WAL sync, whose lock would hold any
		# checkpoint up by itself) while holding item_stats' extension lock,
		# which the page write alone holds: assembling and compressing its
		# page images, or checksumming and writing its pages
		my $inside = $mon->query_safe(qq{
			SELECT (SELECT wait_event IS NULL FROM pg_stat_activity WHERE pid = $pid)
			   AND EXISTS (SELECT FROM pg_locks WHERE pid = $pid AND locktype = 'extend' AND granted
						   AND relation = 'recsys.item_stats'::regclass)});
		return ($pid, 1) if $inside eq 't';
		kill 'CONT', $pid;
	}
	return ($pid, 0);
}

# 1. a base backup while the backend is stopped inside the window
my $trainer = $primary->background_psql('postgres');
$trainer->set_query_timer_restart();
my ($pid, $caught);
for my $attempt (1 .. 10)
{
	($pid, $caught) = stop_in_window($trainer);
	last if $caught;
	# (the training ended, or stopped elsewhere each time: wait for it, again)
	$trainer->query_safe('SELECT 1');
}
ok($caught, 'the training\'s backend stopped while writing a group of pages (extension lock held, on the CPU)');

my $backup_dir = $primary->backup_dir . '/during';
my ($bb_out, $bb_err) = ('', '');
my $bb = IPC::Run::start(
	[ 'pg_basebackup', '-D', $backup_dir, '-X', 'stream', '-c', 'fast', '--no-sync', '-d', $primary->connstr('postgres') ],
	'>', \$bb_out, '2>', \$bb_err);
my $waited = time + 3;
$bb->pump_nb while $bb->pumpable && time < $waited && sleep(0.05);
my $finished_while_stopped = !$bb->pumpable;
ok(!$finished_while_stopped, 'the backup\'s checkpoint waits while the pages are not in the file');
my $continued = time;
kill 'CONT', $pid;
$bb->finish;
my $after = time - $continued;
ok($after < 30, sprintf('the backup finished %.1f s after the backend went on', $after)) or diag($bb_err);
$trainer->query_safe('SELECT 1');    # the training committed
my $version = $primary->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'hold'});
ok($version > 1, "the training made version $version");

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'during', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
my $count = qq{SELECT count(*) FROM recsys.item_stats WHERE model = 'hold' AND version = $version};
is($standby->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $count"), '300000',
	'the standby made from that backup has every row (sequential scan)');
my ($rc, $stdout, $stderr) = $standby->psql('postgres',
	"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(n_users) FROM recsys.item_stats
	 WHERE model = 'hold' AND version = $version AND item_id > 0");
is($stdout, '300000', 'and every row by the primary key') or diag($stderr);
$standby->stop;

# 2. a CHECKPOINT loop through a bulk write, then a crash
my $cp = $primary->background_psql('postgres');
$cp->set_query_timer_restart();
$trainer->query_until(qr/go/, "\\echo go\n$train\n");
my $trainer_pid = $pid;
# (until the training's statement runs)
sleep 0.01 until $mon->query_safe("SELECT state = 'active' FROM pg_stat_activity WHERE pid = $trainer_pid") eq 't';
my ($longest, $checkpoints) = (0, 0);
while ($mon->query_safe("SELECT state = 'active' FROM pg_stat_activity WHERE pid = $trainer_pid") eq 't')
{
	my $t0 = time;
	$cp->query_safe('CHECKPOINT');
	$checkpoints++;
	$longest = time - $t0 if time - $t0 > $longest;
}
$trainer->query_safe('SELECT 1');
ok($checkpoints >= 2, "$checkpoints checkpoints ran during the training");
ok($longest < 10, sprintf('none took long (longest %.2f s)', $longest));
my $v2 = $primary->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'hold'});
my $digest = q{SELECT count(*), sum(item_id), sum(n_users) FROM recsys.item_stats WHERE model = 'hold' AND version = }
	. $v2;
my $before = $primary->safe_psql('postgres', $digest);
$_->quit for ($cp, $trainer, $mon);
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', $digest), $before, 'after a crash and restart, the model\'s rows are intact');
is($primary->safe_psql('postgres', q{SELECT item_id FROM recsys.recommend(1, 1, 'hold')}) ne '', 1,
	'and it serves');

$primary->stop;
done_testing();
