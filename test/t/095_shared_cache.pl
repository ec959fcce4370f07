# The shared model cache (recsys in shared_preload_libraries): several
# backends serve one copy of a model, with exactly the answers of a
# backend's private copy; a retrain is seen by other sessions after its
# commit and not before, a rolled-back one never, and it is never shared;
# a cancelled load leaves no entry behind; a model larger than
# recsys.shared_cache_size is served privately; the privilege check stays
# per call; a streaming standby shares its own copies; a backend that
# exits gives its references back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $primary = PostgreSQL::Test::Cluster->new('shm_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, model => 'm');
});

# Everything a client could ask of model m, as one deterministic text.
sub answers
{
	my ($query) = @_;
	my @out;
	for my $u (1, 17, 1999, 99999)    # 99999: unknown, cold start
	{
		push @out, "recommend $u: " . $query->(
			"SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
			  . "FROM recsys.recommend($u, 10, 'm')");
		push @out, "score $u: " . $query->(
			"SELECT string_agg(recsys.score($u, i, 'm')::text, ',' ORDER BY i) "
			  . "FROM unnest('{0,7,250,499,100000}'::bigint[]) i");
	}
	push @out, "similar 7: " . $query->(
		"SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
		  . "FROM recsys.similar_items(7, 10, 'm')");
	push @out, 'model: ' . $query->("SELECT version FROM recsys.models WHERE name = 'm'");
	return join("\n", @out) . "\n";
}

# A backend's private copy: a transaction that has written loads for itself.
my $private = sub {
	$primary->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$_[0]; COMMIT;");
};
my $shared_stats = sub {
	$primary->safe_psql('postgres',
		"SELECT coalesce(string_agg(model || ' v' || version || ' backends ' || backends, '; ' "
		  . "ORDER BY model, version), 'none') FROM recsys.shared_cache_stats() WHERE model = '$_[0]'");
};

my $reference = answers($private);
like($reference, qr/^recommend 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'a private copy recommends 10 items');
is($shared_stats->('m'), 'none', 'a private load is not shared');

# three backends serve one copy
my @sessions = map { $primary->background_psql('postgres') } 1 .. 3;
for my $i (0 .. 2)
{
	my $s = $sessions[$i];
	is(answers(sub { $s->query_safe($_[0]) }), $reference, "backend $i: answers equal a private copy");
}
is($shared_stats->('m'), 'm v1 backends 3', 'one shared copy, used by three backends');
is($sessions[2]->query_safe("SELECT loads || ' ' || (bytes > 500 * 8 * 4)::int FROM recsys.cache_stats() WHERE model = 'm'"),
	'1 1', 'a backend counts the shared copy in its cache');
is($primary->safe_psql('postgres', "SELECT attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'3', 'published by the first backend, attached by the two others');

# a retrain is seen by the others after its commit, not before
my ($a, $b) = @sessions[0, 1];
$a->query_safe("BEGIN");
$a->query_safe("SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, seed => 7, model => 'm')");
my $v2_in_a = answers(sub { $a->query_safe($_[0]) });
like($v2_in_a, qr/^model: 2$/m, 'the training session serves its new version');
isnt($v2_in_a, $reference, 'version 2 answers differently');
is(answers(sub { $b->query_safe($_[0]) }), $reference, 'before the commit, another backend serves version 1');
is($shared_stats->('m'), 'm v1 backends 2', 'the uncommitted version is not shared (the trainer left version 1)');
$a->query_safe("COMMIT");
is(answers(sub { $b->query_safe($_[0]) }), $v2_in_a, 'after the commit, the next statement serves version 2');
is(answers($private), $v2_in_a, 'version 2: a private copy answers the same');
like($shared_stats->('m'), qr/^m v1 backends \d; m v2 backends 1$/, 'version 2 shared once loaded by a reader');

# a rolled-back retrain is never seen, nor shared
$a->query_safe("BEGIN");
$a->query_safe("SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, seed => 9, model => 'm')");
like(answers(sub { $a->query_safe($_[0]) }), qr/^model: 3$/m, 'the training session serves version 3');
$a->query_safe("ROLLBACK");
is(answers(sub { $sessions[2]->query_safe($_[0]) }), $v2_in_a, 'after the rollback, others serve version 2');
unlike($shared_stats->('m'), qr/v3/, 'the rolled-back version was never shared');
is(answers(sub { $a->query_safe($_[0]) }), $v2_in_a, 'and the training session is back to version 2');

# an item-neighbour model (item-kNN; EASE is the same kind) is shared too
$primary->safe_psql('postgres', "SELECT 1 FROM recsys.train_item_knn('events', neighbors => 20, model => 'knn')");
my $knn_query = "SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
  . "FROM (SELECT * FROM recsys.recommend(17, 10, 'knn') UNION ALL SELECT item_id, score, NULL "
  . "FROM recsys.similar_items(7, 5, 'knn') UNION ALL SELECT * FROM recsys.recommend(99999, 3, 'knn')) r";
my $knn_private = $private->($knn_query);
like($knn_private, qr/^(\d+=[-\d.e]+,){17}\d+=[-\d.e]+$/, 'item-kNN serves from a private copy');
is($sessions[1]->query_safe($knn_query), $knn_private, 'item-kNN: a backend answers as a private copy');
is($sessions[2]->query_safe($knn_query), $knn_private, 'item-kNN: another backend too');
is($shared_stats->('knn'), 'knn v1 backends 2', 'item-kNN: one shared copy');

# privileges stay per call: a copy loaded for its owner is not another role's
$primary->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_shm_owner;
	CREATE ROLE regress_recsys_shm_other;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
		TO regress_recsys_shm_owner, regress_recsys_shm_other;
	GRANT SELECT ON events TO regress_recsys_shm_owner;
	SET ROLE regress_recsys_shm_owner;
	SELECT 1 FROM recsys.train_cf('public.events', factors => 8, iterations => 3, model => 'owned');
});
is($primary->safe_psql('postgres',
		"SET ROLE regress_recsys_shm_owner; SELECT count(*) FROM recsys.recommend(1, 5, 'owned')"),
	'5', 'the owner serves its model');
like($shared_stats->('owned'), qr/^owned v1 backends/, 'the owner\'s model is shared');
my ($ret, $out, $err) = $primary->psql('postgres',
	"SET ROLE regress_recsys_shm_other; SELECT count(*) FROM recsys.recommend(1, 5, 'owned')");
like($err, qr/permission denied|may not use|does not exist/, 'another role is refused although a shared copy exists');
is($primary->safe_psql('postgres',
		"SET ROLE regress_recsys_shm_other; SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'owned'"),
	'0', 'nor does it see the copy in shared_cache_stats');
# a dropped model's copy stays in the cache until evicted, but is not shown
# under its name to the next model of that name (another role's)
$primary->safe_psql('postgres', q{
	GRANT SELECT ON events TO regress_recsys_shm_other;
	SET ROLE regress_recsys_shm_owner;
	SELECT recsys.drop_model('owned');
	SET ROLE regress_recsys_shm_other;
	SELECT 1 FROM recsys.train_cf('public.events', factors => 8, iterations => 3, seed => 3, model => 'owned');
});
is($primary->safe_psql('postgres',
		"SET ROLE regress_recsys_shm_other; SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'owned'"),
	'0', 'the dropped model\'s copy is not shown as the new owner\'s model of that name');
is($primary->safe_psql('postgres',
		"SET ROLE regress_recsys_shm_other; SELECT count(*) FROM recsys.recommend(1, 5, 'owned'); "
		  . "SELECT string_agg(version || ' ' || attaches, ';') FROM recsys.shared_cache_stats() WHERE model = 'owned'"),
	"5\n1 1", 'its own copy is, once it serves it');

# a cancelled load leaves nothing behind; a model beyond the limit is private
$primary->safe_psql('postgres', q{
	CREATE TABLE big AS
		SELECT u AS user_id, (u * 37 + j * 1009) % 60000 AS item_id
		FROM generate_series(1, 6000) u, generate_series(1, 20) j;
	SELECT 1 FROM recsys.train_cf('big', factors => 64, iterations => 1, model => 'big');
});
my $cancelled = 0;
for my $timeout (5, 10, 20, 40)
{
	($ret, $out, $err) = $primary->psql('postgres',
		"SET statement_timeout = $timeout; SELECT count(*) FROM recsys.recommend(1, 5, 'big')");
	last if $ret == 0;
	like($err, qr/canceling statement due to statement timeout/, "load cancelled at $timeout ms");
	$cancelled++;
	is($shared_stats->('big'), 'none', "cancelled at $timeout ms: no entry");
}
cmp_ok($cancelled, '>=', 1, 'at least one load was cancelled');
my $big_private = $private->("SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')");
is($primary->safe_psql('postgres', "SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')"),
	$big_private, 'after the cancels the model loads and serves');
like($shared_stats->('big'), qr/^big v1 backends [01]$/, 'and is shared');

# backends that need a version another backend is loading wait for its
# copy instead of reading the tables too
$primary->safe_psql('postgres', "SELECT 1 FROM recsys.train_cf('big', factors => 64, iterations => 1, seed => 5, model => 'big')");
my @loaders = map { $primary->background_psql('postgres') } 1 .. 3;
$_->query_until(qr/go/, "\\echo go\nSELECT count(*) FROM recsys.recommend(1, 5, 'big');\n") for @loaders;
$_->query_safe('SELECT 1') for @loaders;
is($primary->safe_psql('postgres', "SELECT backends || ' ' || attaches || ' ' || reads FROM recsys.shared_cache_stats() WHERE model = 'big' AND version = 2"),
	'3 3 1', 'three backends loading version 2 at once: the tables read once');
my $big2 = $private->("SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')");
is($loaders[1]->query_safe("SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')"),
	$big2, 'and a waiter serves what a private copy serves');
$_->quit for @loaders;

$primary->safe_psql('postgres', "ALTER SYSTEM SET recsys.shared_cache_size = '10MB'; SELECT pg_reload_conf()");
$primary->safe_psql('postgres', "SELECT 1 FROM recsys.train_cf('big', factors => 64, iterations => 1, seed => 3, model => 'big')");
is($primary->safe_psql('postgres', "SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')"),
	$private->("SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(1, 5, 'big')"),
	'a model larger than recsys.shared_cache_size serves from a private copy');
unlike($shared_stats->('big'), qr/v3/, 'and is not shared');
is(answers(sub { $sessions[2]->query_safe($_[0]) }), $v2_in_a, 'the small model still serves');
$primary->safe_psql('postgres', "ALTER SYSTEM RESET recsys.shared_cache_size; SELECT pg_reload_conf()");

# backends that exit give their references back
$_->quit for @sessions;
my $released = 0;
for (1 .. 100)
{
	$released = 1, last
	  if $primary->safe_psql('postgres', "SELECT coalesce(sum(backends), 0) FROM recsys.shared_cache_stats()") eq '0';
	usleep(50_000);
}
ok($released, 'no backend holds a reference after all quit');

# a streaming standby shares its own copies
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('shm_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
my $on_standby = $standby->background_psql('postgres');
my $second = $standby->background_psql('postgres');
is(answers(sub { $on_standby->query_safe($_[0]) }), $v2_in_a, 'the standby serves version 2 as the primary');
is(answers(sub { $second->query_safe($_[0]) }), $v2_in_a, 'a second standby backend too');
is($standby->safe_psql('postgres',
		"SELECT backends || ' ' || attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'2 2', 'from one copy on the standby');
$primary->safe_psql('postgres', "SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, seed => 11, model => 'm')");
$primary->wait_for_catchup($standby);
my $v3 = answers(sub { $primary->safe_psql('postgres', $_[0]) });
like($v3, qr/^model: 3$/m, 'the primary retrained');
is(answers(sub { $on_standby->query_safe($_[0]) }), $v3, 'the standby session follows the replayed retrain');
$on_standby->quit;
$second->quit;

$primary->safe_psql('postgres', q{
	SELECT recsys.drop_model('owned');
	DROP OWNED BY regress_recsys_shm_owner, regress_recsys_shm_other;
	DROP ROLE regress_recsys_shm_owner;
	DROP ROLE regress_recsys_shm_other;
});
$standby->stop;
$primary->stop;
done_testing();
