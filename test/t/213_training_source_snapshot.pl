# A training reads its source, and what it reads of the source later
# (BPR's pair times here), with one snapshot, taken once it holds the
# training lock and the source's locks.  Before, the source read took a
# snapshot of its own after the training's: rows committed in between
# were trained on without their times (their pairs weighed 0; here, where
# only those rows have times, the training failed with "time_col is NULL
# in every row of the source").
#
# The gap is made wide enough to hit: the source is a view whose filter
# calls an IMMUTABLE function, which the planner evaluates; it sleeps 2 s
# the first time it runs while this session holds the training lock, and
# a second session commits new rows meanwhile.  Now that is the planning
# of the source's locks (RsLockSource), before the snapshot: the rows are
# read, with their times.  (A view, not a table: a table is locked, and
# read, by the time_col check before the training lock.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RecsysTAP;

my $node = PostgreSQL::Test::Cluster->new('source_snapshot');
$node->init;
$node->start;
# by construction: 30 users, 12 items, 240 pairs, without times
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev (user_id bigint, item_id bigint, at timestamptz);
	INSERT INTO ev SELECT u, i, NULL
		FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u + i) % 3 <> 0;
	CREATE FUNCTION gap() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
	BEGIN
		IF current_setting('gap.slept', true) IS DISTINCT FROM 'on'
		   AND EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'
					   AND objsubid = 29299 AND granted) THEN
			PERFORM set_config('gap.slept', 'on', false);
			PERFORM pg_sleep(2);
		END IF;
		RETURN true;
	END
	$$;
	CREATE VIEW ev_v AS SELECT user_id, item_id, at FROM ev WHERE gap();
});
my $train = q{SELECT n_interactions FROM recsys.train_bpr('ev_v', factors => 4, iterations => 2, model => 'b',
	time_col => 'at', half_life => '1 day', seed => 1)};
my ($rc, $o, $err) = $node->psql('postgres', $train);
like($err, qr/time_col "at" is NULL in every row of the source/, 'no time yet: refused');

# 30 new pairs (item 13 for every user), with times, committed while it sleeps
my ($out, $stderr) = commit_while_training_sleeps($node, $train, q{
	INSERT INTO ev SELECT u, 13, '2026-01-03'::timestamptz FROM generate_series(1, 30) u;
});
is($stderr, '', 'no error: the times were read with the source\'s snapshot');
like($out, qr/^270\n/, 'the new rows are in the model');
is($node->safe_psql('postgres', q{SELECT (params ->> 'time_col') || ' ' || n_interactions FROM recsys.models WHERE name = 'b'}),
	'at 270', 'with time_col');

# the source's locks come first also for a partitioned table, whose
# partitions only planning locks: a training that waits for a reload of a
# partition (TRUNCATE, INSERT) reads the reload, not the truncated
# partition as an older snapshot would show it (empty)
$node->safe_psql('postgres', q{
	CREATE TABLE pev (user_id bigint, item_id bigint) PARTITION BY RANGE (user_id);
	CREATE TABLE pev_1 PARTITION OF pev FOR VALUES FROM (0) TO (1000);
	INSERT INTO pev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u + i) % 3 <> 0;
});
my $train_p = q{SELECT n_interactions FROM recsys.train_popular('pev', model => 'p')};
is($node->safe_psql('postgres', $train_p), '240', 'a partitioned source');
my $loader = $node->background_psql('postgres');
$loader->query_safe(q{
	BEGIN;
	TRUNCATE pev_1;
	INSERT INTO pev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u + i) % 4 = 0;
});
my $trainer = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
$trainer->query_until(qr/started/, "\\echo started\n$train_p;\n");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE pid = $pid AND NOT granted AND relation = 'pev_1'::regclass"),
	'the training waits for the partition\'s lock');
$loader->query_safe('COMMIT');
$trainer->{stderr} = '';
$out = $trainer->query('SELECT 1');
is($trainer->{stderr}, '', 'no error');
like($out, qr/^90\n/, 'it read the reloaded partition');
$trainer->quit;
$loader->quit;
$node->stop;
done_testing();
