# plot_lines stops within a second of a cancel: a million points in 20
# series took the review 5 s (4 million: 19.6 s, a cancel at 8 s took
# 24.6 s) without a single check for interrupts.  Beyond a million points
# it refuses at once (54000), before any work: the SVG text would near
# its 1 GB limit and no picture of that many points is readable.
#
# The cancel comes a second after the statement starts, so the statement
# draws the million points 8 times over: one plot took 6.6 s at load 10
# here, perhaps well under a second on a quick idle machine, where a
# single plot could end before the cancel (the statement, 8 x 6.6 s here
# uncancelled, still runs then; the cancel cuts it).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('plot_cancel');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE plotarr AS
		SELECT array_agg('series ' || i % 20 ORDER BY i) AS s, array_agg(i::float8 ORDER BY i) AS x,
			   array_agg(sin(i / 1000.0) ORDER BY i) AS y
		FROM generate_series(1, 1000000) i;
});

my $session = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_until(qr/started/, q{\echo started
SELECT sum(length(recsys.plot_lines(s, x, y))) FROM plotarr, generate_series(1, 8) g;
});
ok($node->poll_query_until('postgres',
		"SELECT state = 'active' AND query LIKE '%plot_lines%' FROM pg_stat_activity WHERE pid = $pid"),
	'plot_lines of a million points (8 times over) is running');
sleep 1;
is($node->safe_psql('postgres', "SELECT state FROM pg_stat_activity WHERE pid = $pid"), 'active',
	'still running after a second');
my $start = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$session->{stderr} = '';
$session->query('SELECT 1');
my $took = time - $start;
note sprintf('plot_lines returned %.2f s after the cancel', $took);
like($session->{stderr}, qr/canceling statement due to user request/, 'the plot is cancelled');
cmp_ok($took, '<', 1.5, 'within a second or so');
$session->quit;

my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT length(recsys.plot_lines(s || 'one more'::text, x || 0::float8, y || 0::float8)) FROM plotarr},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  54000: plot_lines draws at most 1000000 points, not 1000001/,
	'a million and one points are refused (54000)');

$node->stop;
done_testing();
