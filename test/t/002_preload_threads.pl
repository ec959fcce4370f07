# OpenBLAS inside a forking server: recsys works whether it is loaded on
# first use or from shared_preload_libraries, training uses recsys.threads
# threads, and an idle backend that has served recommendations burns no
# CPU (no BLAS threads spinning).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# CPU ticks (user + system) a process has used, read by the server itself.
sub cpu_ticks
{
	my ($node, $pid) = @_;
	my $stat = $node->safe_psql('postgres', "SELECT pg_read_file('/proc/$pid/stat')");
	my @f = split / /, (split /\) /, $stat)[1];
	return $f[11] + $f[12];
}

sub threads_of
{
	my ($node, $pid) = @_;
	return $node->safe_psql('postgres',
		"SELECT (regexp_match(pg_read_file('/proc/$pid/status'), 'Threads:\\s+(\\d+)'))[1]");
}

my $setup = q{
	CREATE EXTENSION IF NOT EXISTS recsys;
	DROP TABLE IF EXISTS events;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
};

for my $preload (0, 1)
{
	my $label = $preload ? 'preloaded' : 'loaded on first use';
	my $node = PostgreSQL::Test::Cluster->new($preload ? 'preload' : 'lazy');
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'") if $preload;
	$node->start;
	$node->safe_psql('postgres', $setup);

	my $trained = $node->safe_psql('postgres',
		"SET recsys.threads = 2; SELECT n_users || ' ' || (params->>'threads') FROM recsys.train_cf('events', factors => 16, iterations => 5)");
	is($trained, '2000 2', "$label: train_cf with 2 threads");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM recsys.recommend(1, 10)'), '10',
		"$label: recommend");

	# a backend that served and then sits idle uses no CPU
	my $session = $node->background_psql('postgres');
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_safe('SELECT count(*) FROM recsys.recommend(1, 10)');
	my $before = cpu_ticks($node, $pid);
	sleep 2;
	my $after = cpu_ticks($node, $pid);
	cmp_ok($after - $before, '<=', 2, "$label: idle backend after serving uses no CPU");
	my $postmaster = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
	$before = cpu_ticks($node, $postmaster);
	sleep 1;
	cmp_ok(cpu_ticks($node, $postmaster) - $before, '<=', 2, "$label: other processes stay idle");

	# training runs recsys.threads threads: watch the backend's thread count
	my $idle_threads = threads_of($node, $pid);
	$session->query_until(qr/started/, q{
		SET recsys.threads = 2;
		\echo started
		SELECT 1 FROM recsys.train_cf('events', factors => 128, iterations => 200, model => 'long');
	});
	my $max_threads = $idle_threads;
	for (1 .. 200)
	{
		my $t = threads_of($node, $pid);
		$max_threads = $t if defined $t && $t ne '' && $t > $max_threads;
		last if $max_threads > $idle_threads;
		usleep(20_000);
	}
	cmp_ok($max_threads, '>', $idle_threads, "$label: training adds a worker thread");
	$session->quit;
	$node->stop;
}

done_testing();
