# The shared model cache holds a factor model's compressed (int8) copy
# too: a backend that attaches to the shared copy ranks through the
# compressed copy the publisher laid out, instead of building its own
# (about n_items x (factors + 12) bytes per backend before 0.9.0), with
# the answers of a private copy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shm_q8');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
$node->start;
# 5,000 items: above the size from which ranking uses the compressed copy
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 5000 AS item_id
		FROM generate_series(1, 3000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 2, model => 'm');
});

my $ranking = "SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
  . "FROM (SELECT * FROM recsys.recommend(17, 10, 'm') UNION ALL SELECT * FROM recsys.recommend(2999, 10, 'm')) r";
# a private copy (a transaction that has written loads for itself), with
# the compressed scan and without (its scores may differ in the last bits)
my $reference = $node->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$ranking; COMMIT;");
like($reference, qr/^(\d+=[-\d.e]+,){19}\d+=[-\d.e]+$/, 'a private copy ranks 20 items');
my $reference_full = $node->safe_psql('postgres',
	"SET recsys.compressed_scan = off; BEGIN; SELECT txid_current() \\g /dev/null\n$ranking; COMMIT;");

# this backend's own memory for the model: what cache_stats counts beyond the shared copy
my $local_bytes = "SELECT c.bytes - s.bytes FROM recsys.cache_stats() c "
  . "JOIN recsys.shared_cache_stats() s ON s.model = c.model AND s.version = c.version WHERE c.model = 'm'";

my $publisher = $node->background_psql('postgres');
is($publisher->query_safe($ranking), $reference, 'the publishing backend answers as a private copy');
my $reader = $node->background_psql('postgres');
$reader->query_safe("SET recsys.compressed_scan = off");
is($reader->query_safe($ranking), $reference_full, 'an attaching backend, full scan: the same answers');
my $before = $reader->query_safe($local_bytes);
$reader->query_safe("SET recsys.compressed_scan = on");
is($reader->query_safe($ranking), $reference, 'an attaching backend, compressed scan: the same answers');
my $after = $reader->query_safe($local_bytes);
note("attaching backend's own bytes: $before with the full scan, $after with the compressed scan");
# the compressed copy of 5,000 x 8 factors is about 100 kB; the scan's
# scratch a few kB
cmp_ok($after - $before, '<', 50000, 'the compressed scan allocated no compressed copy of its own');
is($node->safe_psql('postgres', "SELECT attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'2', 'one copy, published once and attached by the other backend');

$publisher->quit;
$reader->quit;
$node->stop;
done_testing();
