# A training reads its source, and what it reads of the source later
# (BPR's pair times here), with one snapshot, taken once it holds the
# training lock and the source's locks.  Before, the source read took a
# snapshot of its own after the training's: rows committed in between were
# trained on without their times (their pairs weighed 0).
#
# The gap is made wide enough to hit: the source is a view whose filter
# calls an IMMUTABLE function, which the planner evaluates; it sleeps 2 s
# the first time it runs while this session holds the training lock (the
# source read's planning), and a second session commits new rows
# meanwhile.  (A view, not a table: a table is locked, and read, by the
# time_col check before the training lock.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('source_snapshot');
$node->init;
$node->start;
# by construction: 30 users, 12 items, 240 pairs, each with a time
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev (user_id bigint, item_id bigint, at timestamptz);
	INSERT INTO ev SELECT u, i, '2026-01-01'::timestamptz + (u + i) * interval '1 hour'
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
is($node->safe_psql('postgres', $train), '240', 'trained on the source as it is');

my $trainer = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
$trainer->query_until(qr/started/, "\\echo started\n$train;\n");
ok($node->poll_query_until('postgres',
	"SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = $pid"),
	'the retrain sleeps in the source read\'s planning, holding the training lock');
# 30 new pairs (item 13 for every user) committed while it sleeps
$node->safe_psql('postgres', q{
	INSERT INTO ev SELECT u, 13, '2026-01-03'::timestamptz FROM generate_series(1, 30) u;
});
$trainer->{stderr} = '';
my $out = $trainer->query('SELECT 1');
is($trainer->{stderr}, '', 'no error');
like($out, qr/^240\n/, 'the source read used the training\'s snapshot: the rows committed later are not in it');
$trainer->quit;
# the next retrain reads them, times and all
$node->safe_psql('postgres', 'RESET ALL');
is($node->safe_psql('postgres', $train), '270', 'a later retrain reads them');
$node->stop;
done_testing();
