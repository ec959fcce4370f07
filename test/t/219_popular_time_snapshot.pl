# train_popular with time_col and half_life computes its decayed item sums
# with the snapshot training read the source with (review s10 rev2, 3: the
# item statistics and the n_items the model records follow one rule).
# Before, the sums were an INSERT ... SELECT taking a snapshot of its own
# after the source was read: rows of a new item committed in between were
# in recsys.item_stats but not in n_items, and the model trained, then
# could not serve (XX001).
#
# The gap is made wide enough to hit, as in 213: the source is a view whose
# filter calls an IMMUTABLE function, which the planner evaluates; it
# sleeps 2 s in its second call while this session holds the training
# lock (the planning of the source's read: the first is RsLockSource's),
# and a second session commits rows of a 13th item meanwhile.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RecsysTAP;

my $node = PostgreSQL::Test::Cluster->new('popular_time_snapshot');
$node->init;
$node->start;
# by construction: 30 users, 12 items, 240 pairs, item i at hour i
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev (user_id bigint, item_id bigint, at timestamptz);
	INSERT INTO ev SELECT u, i, '2026-01-01'::timestamptz + i * interval '1 hour'
		FROM generate_series(1, 30) u, generate_series(1, 12) i WHERE (u + i) % 3 <> 0;
	CREATE FUNCTION gap() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
	DECLARE
		n integer;
	BEGIN
		IF EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'
				   AND objsubid = 29299 AND granted) THEN
			n := coalesce(nullif(current_setting('gap.n', true), ''), '0')::integer + 1;
			PERFORM set_config('gap.n', n::text, false);
			IF n = 2 THEN
				PERFORM pg_sleep(2);
			END IF;
		END IF;
		RETURN true;
	END
	$$;
	CREATE VIEW ev_v AS SELECT user_id, item_id, at FROM ev WHERE gap();
});
my $train = q{SELECT n_items FROM recsys.train_popular('ev_v', model => 'p', time_col => 'at',
	half_life => '1 hour')};

# item 13, the newest, for every user, committed while it sleeps
my ($out, $stderr) = commit_while_training_sleeps($node, $train, q{
	INSERT INTO ev SELECT u, 13, '2026-01-02'::timestamptz FROM generate_series(1, 30) u;
});
is($stderr, '', 'no error');
like($out, qr/^12\n/, 'the model has the 12 items the read saw');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.item_stats WHERE model = 'p'}),
	'12', 'and item_stats the same 12, not item 13 committed after the read');
# served: a new user gets the newest items the model knows, 12 then 11
is($node->safe_psql('postgres', q{SELECT string_agg(item_id::text, ',' ORDER BY score DESC)
	FROM recsys.recommend(1000, 2, 'p')}), '12,11', 'the model serves');
# a training now sees item 13
is($node->safe_psql('postgres', "SELECT n_items FROM recsys.train_popular('ev', model => 'p', time_col => 'at',
	half_life => '1 hour', replace => true)"), '13', 'retrained: 13 items');
is($node->safe_psql('postgres', q{SELECT string_agg(item_id::text, ',' ORDER BY score DESC)
	FROM recsys.recommend(1000, 2, 'p')}), '13,12', 'item 13 first');

$node->stop;
done_testing();
