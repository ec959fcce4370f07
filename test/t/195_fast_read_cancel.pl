# The direct heap read (recsys.fast_read) stops within a second of a
# cancel, like the executor path it replaces.
#
# The source is made slow to read rather than large: 500,000 rows whose
# numeric weights have 2,000 digits each (numeric to float8 prints and
# parses every digit), so the read alone takes seconds in a table of
# about 500 MB.  The uncancelled read is timed first (it must take the
# heap path and last over 1.5 s, or the test would prove nothing), then
# train_popular and source_stats run with statement_timeout = 300ms: each
# must fail with the timeout and return within 1.5 s of its start (1 s is
# the goal; the margin is for a loaded machine).  The heap scan polls for
# interrupts once per page and ingest_row every 65,536 rows.  The same
# with the parallel heap read (workers mapping ids): the leader polls while
# it reads and while it waits for the workers, and its abort terminates
# them; none is left within a second.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('fast_read_cancel');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE slow_weights AS
		SELECT i % 5000 AS user_id, i % 700 AS item_id,
			   ('0.' || repeat((i % 9 + 1)::text, 2000))::numeric AS weight
		FROM generate_series(1, 500000) i;
});

my $t0 = time;
my $path = $node->safe_psql('postgres', q{
	SET max_parallel_workers_per_gather = 0;
	SELECT stats->>'read_path' FROM recsys.train_popular('slow_weights', model => 'slow', weight_col => 'weight');
});
my $full = time - $t0;
is($path, 'heap', 'the slow source is read by the heap path');
note(sprintf('uncancelled train_popular: %.2f s', $full));
cmp_ok($full, '>', 1.5, 'the uncancelled read lasts long enough for the test to mean something');

# the parallel heap read: the same table with workers (about 500 MB, so
# the planner's rule gives a scan of it 2)
$t0 = time;
my $workers = $node->safe_psql('postgres', q{
	SET max_parallel_workers_per_gather = 2;
	SELECT stats->>'read_path' || ' ' || (stats->>'read_workers_planned') || ' ' || ((stats->>'read_workers')::int > 0)
	FROM recsys.train_popular('slow_weights', model => 'slow', weight_col => 'weight', replace => true);
});
note(sprintf('uncancelled train_popular with workers: %.2f s', time - $t0));
is($workers, 'heap 2 true', 'with workers allowed the heap read plans 2 and starts some');

my $session = $node->background_psql('postgres', on_error_stop => 0);
foreach my $case (
	[ 'train_popular', 0, q{SELECT 1 FROM recsys.train_popular('slow_weights', model => 'slow', weight_col => 'weight', replace => true)} ],
	[ 'source_stats', 0, q{SELECT users FROM recsys.source_stats('slow_weights', weight_col => 'weight')} ],
	[ 'train_popular with workers', 2, q{SELECT 1 FROM recsys.train_popular('slow_weights', model => 'slow', weight_col => 'weight', replace => true)} ],
	[ 'source_stats with workers', 2, q{SELECT users FROM recsys.source_stats('slow_weights', weight_col => 'weight')} ])
{
	my ($name, $workers_per_gather, $sql) = @$case;
	$session->query_safe("SET max_parallel_workers_per_gather = $workers_per_gather");
	$session->query_safe(q{SET statement_timeout = '300ms'});
	my $start = time;
	$session->query($sql);
	my $elapsed = time - $start;
	my $err = $session->{stderr};
	$session->{stderr} = '';
	$session->query_safe(q{RESET statement_timeout});
	note(sprintf('%s cancelled after %.2f s', $name, $elapsed));
	like($err, qr/canceling statement due to statement timeout/, "$name: still reading at 300 ms, cancelled");
	cmp_ok($elapsed, '<', 1.5, "$name: returns within 1.5 s of its start");
	# the leader's abort terminated its workers (polled: they exit on their own)
	my $left = 1;
	for (my $poll = 0; $poll < 20 && $left > 0; $poll++)
	{
		$left = $node->safe_psql('postgres',
			q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'});
		select(undef, undef, undef, 0.05) if $left > 0;
	}
	is($left, '0', "$name: no worker left within a second");
}
$session->quit;

$node->stop;
done_testing();
