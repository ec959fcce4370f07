# Every thread a backend gains from recsys blocks the signals PostgreSQL
# handles, so that a process-directed signal (pg_cancel_backend's SIGINT,
# statement_timeout's SIGALRM, SIGTERM, SIGUSR1 latches...) always runs
# its handler on the backend's own thread.  OpenBLAS starts a pool of
# threads that lives as long as the backend: when train_ease raises its
# thread count to recsys.threads, and when the library is loaded with
# OPENBLAS_NUM_THREADS > 1 set by the administrator.  The test reads each
# thread's SigBlk from /proc as the backend itself (pg_read_file, as
# superuser).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM on Linux
my %signals = (HUP => 1, INT => 2, QUIT => 3, USR1 => 10, USR2 => 12, ALRM => 14, TERM => 15);

# The signals of %signals a SigBlk hex mask leaves unblocked.
sub unblocked
{
	my ($mask) = @_;
	my @open;
	for my $name (sort keys %signals)
	{
		my $bit = $signals{$name} - 1;
		my $digit = hex(substr($mask, length($mask) - 1 - int($bit / 4), 1));
		push @open, $name unless $digit & (1 << ($bit % 4));
	}
	return join(',', @open);
}

# The backend's threads as "tid mask" lines: the main one first.
my $threads_sql = q{
	SELECT t || ' ' || (regexp_match(pg_read_file('/proc/self/task/' || t || '/status'),
									 'SigBlk:\s+([0-9a-f]+)'))[1]
	FROM pg_ls_dir('/proc/self/task') t
	ORDER BY t::int <> pg_backend_pid(), t::int};

sub check_threads
{
	my ($label, $lines) = @_;
	my @threads = map { [ split / / ] } split /\n/, $lines;
	my $main = shift @threads;
	cmp_ok(scalar(@threads), '>=', 1, "$label: the backend has OpenBLAS threads");
	for my $t (@threads)
	{
		is(unblocked($t->[1]), '', "$label: thread $t->[0] blocks HUP, INT, QUIT, USR1, USR2, ALRM, TERM");
	}
	# the backend's own thread got its mask back
	like(unblocked($main->[1]), qr/^ALRM,.*INT,.*USR1/,
		"$label: the backend's own thread still takes INT, ALRM and USR1");
}

my $setup = q{
	CREATE EXTENSION IF NOT EXISTS recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 800 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
};

# 1. train_ease with recsys.threads = 2 starts OpenBLAS's pool
my $node = PostgreSQL::Test::Cluster->new('signals');
$node->init;
$node->start;
$node->safe_psql('postgres', $setup);
my $out = $node->safe_psql('postgres', qq{
	SET recsys.threads = 2;
	SELECT 1 FROM recsys.train_ease('events', regularization => 100);
	$threads_sql});
$out =~ s/^1\n//;
check_threads('after train_ease with 2 threads', $out);
# and a cancel still reaches the backend, which keeps working
is($node->safe_psql('postgres', q{
	SET recsys.threads = 2;
	SELECT 1 FROM recsys.train_ease('events', regularization => 100, model => 'e2');
	SELECT count(*) FROM recsys.recommend(1, 5, 'e2')}), "1\n5", 'a second EASE run in a backend that has the pool');
$node->stop;

# 2. OPENBLAS_NUM_THREADS set by the administrator: the pool starts when
# the library is loaded
{
	local $ENV{OPENBLAS_NUM_THREADS} = '2';
	my $env_node = PostgreSQL::Test::Cluster->new('signals_env');
	$env_node->init;
	$env_node->start;
	$env_node->safe_psql('postgres', $setup);
	check_threads('loaded with OPENBLAS_NUM_THREADS=2',
		$env_node->safe_psql('postgres', "LOAD 'recsys'; $threads_sql"));
	$env_node->stop;
}

done_testing();
