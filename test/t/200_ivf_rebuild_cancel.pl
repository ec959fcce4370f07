# A retrain cancelled while it rebuilds the IVF index (recsys.ivf_rebuild:
# the new version is indexed as the replaced one was, in the training's
# transaction) leaves the old version and its index active and served:
# the cancel comes within a second of pg_cancel_backend, no new version
# or index row is kept, and rankings through the index are the old ones.
# Another session sees the phase "indexing" in recsys.progress, which is
# when the cancel is sent.  (sql/ivf_rebuild.sql tests the rebuild itself.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('ivf_rebuild_cancel');
$node->init;
$node->start;
# 20,000 items x 16 factors; an index of 400 lists and 40 k-means rounds
# (a second or two to build, most of it in the kernel, which takes the
# stop flag)
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 20000 AS item_id
		FROM generate_series(1, 4000) u, generate_series(1, 10) j;
	SELECT 1 FROM recsys.train_cf('events', factors => 16, iterations => 1, model => 'm');
});
my $built = $node->safe_psql('postgres',
	"SELECT (recsys.create_ivf('m', lists => 400, iterations => 40)) ->> 'build_seconds'");
note("create_ivf of version 1: $built s");

my $ranking = "SET recsys.ivf_probes = 1; SELECT string_agg(item_id::text, ',' ORDER BY score DESC, item_id) "
  . "FROM (SELECT * FROM recsys.recommend(17, 10, 'm') UNION ALL SELECT * FROM recsys.recommend(3999, 10, 'm')) r";
my $reference = $node->safe_psql('postgres', $ranking);
like($reference, qr/^(\d+,){19}\d+$/, 'version 1 ranks through its index');

my $trainer = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $trainer->query_safe('SELECT pg_backend_pid()');
$trainer->query_until(qr/started/, q{\echo started
SELECT version FROM recsys.train_cf('events', factors => 16, iterations => 1, model => 'm');
});

# wait for the rebuild (the phase after writing the new version), from
# one session kept open, which also sends the cancel: a new psql per poll
# took hundreds of milliseconds at load 10 here, tens on a quick machine,
# where the rebuild (2.7 s here) may take a few tenths of a second
my $watcher = $node->background_psql('postgres');
my $phase = '';
my $deadline = time + 60;
while (time < $deadline)
{
	$phase = $watcher->query_safe("SELECT phase FROM recsys.progress WHERE pid = $pid");
	last if $phase eq 'indexing';
	sleep 0.01;
}
is($phase, 'indexing', 'another session sees the retrain rebuilding the index');
my $start = time;
is($watcher->query_safe("SELECT pg_cancel_backend($pid)"), 't', 'cancel sent');
$watcher->quit;
$trainer->{stderr} = '';
$trainer->query('SELECT 1');
my $elapsed = time - $start;
note(sprintf('the retrain returned %.2f s after pg_cancel_backend', $elapsed));
like($trainer->{stderr}, qr/canceling statement due to user request/, 'the retrain was cancelled');
cmp_ok($elapsed, '<', 1.5, 'within a second or so (the k-means takes the stop flag)');
$trainer->{stderr} = '';

is( $node->safe_psql('postgres', "SELECT version, stats -> 'ivf' ->> 'version' FROM recsys.models WHERE name = 'm'"),
	'1|1', 'version 1 and its index are still the active ones');
is($node->safe_psql('postgres', "SELECT max(version) FROM recsys.model_versions WHERE model = 'm'"),
	'1', 'no version 2 was kept');
is($node->safe_psql('postgres', "SELECT version, count(*) FROM recsys.ivf_lists GROUP BY version"),
	'1|400', 'only version 1 has index rows');
is($node->safe_psql('postgres', $ranking), $reference, 'a new session ranks as before through the index');
is($trainer->query_safe($ranking), $reference, 'so does the cancelled session');

# the same retrain left to finish: version 2, indexed alike
is($trainer->query_safe(
		"SELECT version || ':' || (stats -> 'ivf' ->> 'lists') || ':' || (stats -> 'ivf' ->> 'iterations') "
		  . "FROM recsys.train_cf('events', factors => 16, iterations => 1, model => 'm')"),
	'2:400:40', 'a retrain left to finish is version 2, indexed with the same settings');
$trainer->quit;

$node->stop;
done_testing();
