# The shared model cache holds a factor model's IVF index too (its lists
# and their int8 copy): a backend that attaches to the shared copy probes
# the index the publisher loaded, with the answers of a private copy,
# instead of loading its own (about n_items x (factors + 16) bytes per
# backend before 0.9.0).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shm_ivf');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
$node->start;
# 5,000 items x 8 factors, 70 lists
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 5000 AS item_id
		FROM generate_series(1, 3000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 2, model => 'm');
	SELECT 1 FROM recsys.create_ivf('m');
});

my $ranking = "SET recsys.ivf_probes = 2; SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
  . "FROM (SELECT * FROM recsys.recommend(17, 10, 'm') UNION ALL SELECT * FROM recsys.recommend(2999, 10, 'm')) r";
# a private copy (a transaction that has written loads for itself)
my $reference = $node->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$ranking; COMMIT;");
like($reference, qr/^(\d+=[-\d.e]+,){19}\d+=[-\d.e]+$/, 'a private copy ranks 20 items through the index');
my $exact = $node->safe_psql('postgres',
	"BEGIN; SELECT txid_current() \\g /dev/null\n" . ($ranking =~ s/ivf_probes = 2/ivf_probes = 0/r) . "; COMMIT;");
isnt($reference, $exact, 'probing 2 of the lists gives another answer than the exact scan (so the index is used)');

# this backend's own memory for the model: what cache_stats counts beyond the shared copy
my $local_bytes = "SELECT c.bytes - s.bytes FROM recsys.cache_stats() c "
  . "JOIN recsys.shared_cache_stats() s ON s.model = c.model AND s.version = c.version WHERE c.model = 'm'";

my $publisher = $node->background_psql('postgres');
is($publisher->query_safe($ranking), $reference, 'the publishing backend answers as a private copy');
my $reader = $node->background_psql('postgres');
is($reader->query_safe($ranking =~ s/ivf_probes = 2/ivf_probes = 0/r), $exact,
	'an attaching backend, exact scan: the same answers');
my $before = $reader->query_safe($local_bytes);
is($reader->query_safe($ranking), $reference, 'an attaching backend, through the index: the same answers');
my $after = $reader->query_safe($local_bytes);
note("attaching backend's own bytes: $before before probing the index, $after after");
# the index of 5,000 x 8 factors is over 100 kB (lists, int8 copy,
# centroids); the per-query arrays and the scan's scratch a few kB
cmp_ok($after - $before, '<', 50000, 'probing the index allocated no index of its own');
is($node->safe_psql('postgres', "SELECT attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'2', 'one copy, published once and attached by the other backend');

# a publisher with recsys.ivf_probes = 0 publishes no index: an attaching
# backend that probes loads its own, with the same answers
$node->safe_psql('postgres', "SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 2, model => 'm2')");
$node->safe_psql('postgres', "SELECT 1 FROM recsys.create_ivf('m2')");
my $r2 = $ranking =~ s/'m'/'m2'/gr;
my $reference2 = $node->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$r2; COMMIT;");
$publisher->query_safe("SET recsys.ivf_probes = 0; SELECT count(*) FROM recsys.recommend(17, 10, 'm2')");
is($reader->query_safe($r2), $reference2, 'published without the index: an attaching backend probes its own');

$publisher->quit;
$reader->quit;
$node->stop;
done_testing();
