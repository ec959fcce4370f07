# The shared model cache carries a factor model's compressed (int8) item
# copy: the backend that publishes the model builds it once, every
# backend ranks from it, with exactly the answers of a private copy and
# of the exact fp32 scan; a model published while recsys.compressed_scan
# is off has none and is still served (each backend builds its own on
# first use, as without the shared cache).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shared_q8');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
$node->start;
# 6,000 items (the compressed scan starts at 4,096), 16 factors
my ($n, $k) = (6000, 16);
$node->safe_psql('postgres', qq{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT i % 300 AS user_id, i AS item_id FROM generate_series(0, $n - 1) i
		UNION ALL
		SELECT u, (u * 37 + j * 101) % $n FROM generate_series(0, 299) u, generate_series(1, 15) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => $k, iterations => 3, model => 'q');
});

my $answers_sql = "SELECT string_agg(u || ':' || r, ';' ORDER BY u) FROM ("
  . "SELECT u, (SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
  . "FROM recsys.recommend(u, 10, 'q')) AS r FROM unnest('{0,1,7,150,299,100000}'::bigint[]) u) s";
my $stats_sql = "SELECT bytes FROM recsys.shared_cache_stats() s JOIN recsys.models m ON m.name = s.model AND m.version = s.version WHERE s.model = 'q'";
my $private_bytes_sql = sub { "SELECT bytes - $_[0] FROM recsys.cache_stats() WHERE model = 'q'" };
# a private copy: a transaction that has written loads for itself and
# never uses the shared cache
my $private_sql = sub { "BEGIN; SELECT txid_current() \\g /dev/null\n$_[0]; COMMIT;" };
(my $ids_sql = $answers_sql) =~ s/item_id \|\| '=' \|\| score, ','/item_id::text, ','/;

# 1. published by a backend with compressed_scan off: no int8 codes in the
# copy; a backend with it on builds its own and answers as a private copy
my $private1 = $node->safe_psql('postgres', $private_sql->($answers_sql));
like($private1, qr/^0:(\d+=[-\d.e]+,){9}\d+=[-\d.e]+;/, 'a private copy recommends 10 items');
my $exact1 = $node->safe_psql('postgres', $private_sql->("SET recsys.compressed_scan = off; $answers_sql"));
is($node->safe_psql('postgres', "SET recsys.compressed_scan = off; $answers_sql"), $exact1,
	'published with compressed_scan off: answers as an exact private copy');
my $bytes_plain = $node->safe_psql('postgres', $stats_sql);
my $s1 = $node->background_psql('postgres');
is($s1->query_safe($answers_sql), $private1, 'a backend with compressed_scan on answers as a private copy');
my $own = $s1->query_safe($private_bytes_sql->($bytes_plain));
cmp_ok($own, '>=', $n * $k, "and holds its own int8 codes ($own private bytes)");
$s1->quit;

# 2. a retrain, published by a backend with compressed_scan on: the codes
# are in the shared copy, and other backends build none
$node->safe_psql('postgres',
	"SELECT 1 FROM recsys.train_cf('events', factors => $k, iterations => 3, seed => 5, model => 'q')");
my $private2 = $node->safe_psql('postgres', $private_sql->($answers_sql));
isnt($private2, $private1, 'the retrained model recommends differently');
is($node->safe_psql('postgres', $private_sql->("SET recsys.compressed_scan = off; $ids_sql")),
	$node->safe_psql('postgres', $private_sql->($ids_sql)),
	'its compressed scan ranks as the exact scan');
my $s2 = $node->background_psql('postgres');
is($s2->query_safe($answers_sql), $private2, 'the publishing backend answers as a private copy');
my $bytes_q8 = $node->safe_psql('postgres', $stats_sql);
cmp_ok($bytes_q8 - $bytes_plain, '>=', $n * $k,
	"the shared copy holds the int8 codes ($bytes_q8 bytes against $bytes_plain without)");
my $s3 = $node->background_psql('postgres');
is($s3->query_safe($answers_sql), $private2, 'a second backend answers as a private copy');
my $shared_own = $s3->query_safe($private_bytes_sql->($bytes_q8));
cmp_ok($own - $shared_own, '>=', $n * $k,
	"and builds no int8 codes of its own ($shared_own private bytes)");
is($s3->query_safe("SET recsys.compressed_scan = off; $answers_sql"),
	$node->safe_psql('postgres', $private_sql->("SET recsys.compressed_scan = off; $answers_sql")),
	'with compressed_scan off it scans the shared fp32 factors, as an exact private copy');
is($node->safe_psql('postgres', "SELECT s.backends FROM recsys.shared_cache_stats() s JOIN recsys.models m ON m.name = s.model AND m.version = s.version WHERE s.model = 'q'"),
	'2', 'both backends serve from the one shared copy');
$_->quit for $s2, $s3;

$node->stop;
done_testing();
