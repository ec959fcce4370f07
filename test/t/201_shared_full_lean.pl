# The shared model cache when it is merely full (0.10.0): a model with an
# IVF index whose whole copy fits recsys.shared_cache_size, but not beside
# the copies other backends are using, is shared without its index (each
# backend builds its own at its first probe) instead of not at all (before,
# every backend then loaded a private model and index).  187 covers the
# model and index that exceed the cache by themselves.
#
# Also checked (documented, harmless): a model first loaded inside a
# parallel query is published without its index (a parallel worker or
# leader cannot start the subtransaction that guards the index load); a
# backend that attaches and probes builds an index of its own, with the
# answers of a private copy.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysTAP;

# two models of the same shape (30,000 items x 32 factors), m indexed
my ($node, $ranking, $reference) = shared_ivf_node('shm_full');
like($reference, qr/^(\d+=[-\d.e]+,){19}\d+=[-\d.e]+$/, 'a private copy ranks 20 items through the index');
my $plain = "SELECT count(*) FROM recsys.recommend(17, 10, 'plain')";

# the copies' sizes: m with its index, and plain (m's size without it)
my ($full, $lean) = shared_copy_sizes($node, $ranking);
# a cache that holds m whole alone, and m lean beside plain, not m whole beside plain
my $mb = int((2 * $lean + 1048575) / 1048576);
note("shared copy: $full bytes with the index, $lean without; cache of $mb MB");
cmp_ok($full, '<=', $mb * 1048576, "m with its index fits a cache of $mb MB alone");
cmp_ok($full + $lean, '>', $mb * 1048576, 'but not beside plain');

$node->append_conf('postgresql.conf', "recsys.shared_cache_size = '${mb}MB'");
$node->restart;
# a backend that serves plain keeps its copy in use
my $holder = $node->background_psql('postgres');
is($holder->query_safe($plain), '10', 'plain is served');
my $publisher = $node->background_psql('postgres');
is($publisher->query_safe($ranking), $reference, 'the publisher of m answers as a private copy');
is( $node->safe_psql('postgres',
		"SELECT string_agg(model || ':' || (bytes <= $lean)::int, ',' ORDER BY model) FROM recsys.shared_cache_stats()"),
	'm:1,plain:1', 'm is shared without its index beside plain, which stays');
my $reader = $node->background_psql('postgres');
is($reader->query_safe($ranking), $reference, 'an attaching backend probes an index of its own: the same answers');
is($node->safe_psql('postgres', "SELECT attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'2', 'one copy of m, published once and attached by the other backend');
$holder->quit;
$publisher->quit;
$reader->quit;

# with plain no longer in use, a new version of m is shared whole again
$node->safe_psql('postgres', "SELECT 1 FROM recsys.train_cf('events', factors => 32, iterations => 1, model => 'm')");
$node->safe_psql('postgres', $ranking);
is( $node->safe_psql('postgres', "SELECT version, bytes > $lean FROM recsys.shared_cache_stats() WHERE model = 'm' ORDER BY version DESC LIMIT 1"),
	'2|t', 'a cache with room for it takes the retrained m with its (kept) index');

# a parallel query's first load publishes without the index: harmless
$node->restart;
my $parallel = "SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
  . $ranking;
my $reference2 = $node->safe_psql('postgres', "BEGIN; SELECT txid_current() \\g /dev/null\n$ranking; COMMIT;");
is($node->safe_psql('postgres', $parallel), $reference2, 'a parallel query ranks as a private copy');
is($node->safe_psql('postgres', "SELECT bytes <= $lean FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	't', 'the copy it published has no index');
is($node->safe_psql('postgres', $ranking), $reference2,
	'a backend that attaches to it and probes builds its own index: the same answers');

$node->stop;
done_testing();
