# RecsysTAP: set-ups that several TAP tests share, as PostgreSQL's own
# TAP helpers (src/test/perl) share theirs.  A test loads it with
#
#   use FindBin;
#   use lib $FindBin::RealBin;
#   use RecsysTAP;
#
# (test/run.sh copies test/t whole, so it is found beside the tests
# wherever they run).
package RecsysTAP;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Time::HiRes ();

our @EXPORT = qw(primary_and_standby crash_during_bulk_write shared_ivf_node shared_copy_sizes meet_while_held
  commit_while_training_sleeps);

# A primary (fsync on: the crash tests replay real WAL) with recsys and
# the events table $events_sql creates, and a streaming standby made from
# its backup, both started.
sub primary_and_standby
{
	my ($events_sql) = @_;
	my $primary = PostgreSQL::Test::Cluster->new('primary');
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', "fsync = on\n");
	$primary->start;
	$primary->safe_psql('postgres', "CREATE EXTENSION recsys;\n$events_sql");
	$primary->backup('base');
	my $standby = PostgreSQL::Test::Cluster->new('standby');
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	return ($primary, $standby);
}

# Crash the primary (immediate stop, replay at the restart) while a
# training ($train: a SELECT) writes in bulk in a transaction left open.
sub crash_during_bulk_write
{
	my ($primary, $train) = @_;
	my $open = $primary->background_psql('postgres');
	$open->query_safe("BEGIN;\nSET recsys.bulk_write = on;\n$train;");
	$primary->stop('immediate');
	$open->quit;
	$primary->start;
	return;
}

# A node with recsys preloaded (the shared model cache) and two models of
# the same shape (30,000 items x 32 factors): m with an IVF index of 100
# lists, plain without.  Returns the node, a query ranking 20 items of m
# through the index, and its answer from a private copy (in a transaction
# with an xid, which the shared cache does not serve).
sub shared_ivf_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION recsys;
		CREATE TABLE events AS
			SELECT u AS user_id, (u * 7 + j * 13) % 30000 AS item_id
			FROM generate_series(1, 6000) u, generate_series(1, 20) j;
		CREATE INDEX ON events (user_id);
		SELECT 1 FROM recsys.train_cf('events', factors => 32, iterations => 1, model => 'm');
		SELECT 1 FROM recsys.create_ivf('m', lists => 100);
		SELECT 1 FROM recsys.train_cf('events', factors => 32, iterations => 1, model => 'plain');
	});
	my $ranking = "SET recsys.ivf_probes = 2; SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
	  . "FROM (SELECT * FROM recsys.recommend(17, 10, 'm') UNION ALL SELECT * FROM recsys.recommend(5999, 10, 'm')) r";
	my $reference = $node->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$ranking; COMMIT;");
	return ($node, $ranking, $reference);
}

# The shared copies' sizes in bytes, once m (ranked by $ranking) and plain
# are served: m with its index, and plain (m's size without it).
sub shared_copy_sizes
{
	my ($node, $ranking) = @_;
	$node->safe_psql('postgres', $ranking);
	$node->safe_psql('postgres', "SELECT count(*) FROM recsys.recommend(17, 10, 'plain')");
	return split /\|/, $node->safe_psql('postgres',
		"SELECT max(bytes) FILTER (WHERE model = 'm'), max(bytes) FILTER (WHERE model = 'plain') FROM recsys.shared_cache_stats()");
}


# Run $sql in a new session of $node while $holder, a background session
# in an open transaction (holding a training lock), commits after
# $commit_after seconds (never if undef); just before that commit,
# $while_waiting (if given) is called with the new session's pid, to check
# how it waits.  Returns (stdout, stderr, seconds).
sub meet_while_held
{
	my ($node, $holder, $sql, $commit_after, $while_waiting) = @_;
	my $waiter = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
	my $start = Time::HiRes::time();
	$waiter->query_until(qr/started/, "\\echo started\n$sql;\n\\echo finished\n");
	if (defined $commit_after)
	{
		sleep $commit_after;
		$while_waiting->($pid) if $while_waiting;
		$holder->query_safe('COMMIT');
	}
	$waiter->{stderr} = '';
	my $out = $waiter->query('SELECT 1');
	my $elapsed = Time::HiRes::time() - $start;
	my $err = $waiter->{stderr};
	$waiter->quit;
	return ($out, $err, $elapsed);
}

# Run the training $train (a SELECT) in a background session until it
# sleeps (pg_sleep, in a planning of its source: see 213 and 219), commit
# $commit from another session meanwhile, and return the training's output
# and stderr once it has finished.
sub commit_while_training_sleeps
{
	my ($node, $train, $commit) = @_;
	my $trainer = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
	$trainer->query_until(qr/started/, "\\echo started\n$train;\n");
	Test::More::ok($node->poll_query_until('postgres',
		"SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $pid"),
		'the training sleeps in a planning of the source, holding the training lock');
	$node->safe_psql('postgres', $commit);
	$trainer->{stderr} = '';
	my $out = $trainer->query('SELECT 1');
	my $err = $trainer->{stderr};
	$trainer->quit;
	return ($out, $err);
}

1;
