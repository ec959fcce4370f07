# The shared model cache and the IVF index, when they do not fit together
# or the index is damaged (0.9.0 review):
# - a model whose copy fits recsys.shared_cache_size without its IVF index
#   but not with it is still shared, without the index (each backend
#   loads its own index at its first probe, as before the index went into
#   the shared copy); before, nothing was shared and every backend held a
#   private model and index;
# - a damaged IVF index fails only what probes it: score and
#   similar_items serve (before, the shared-mode load read the index and
#   failed them too), recommend through the index names drop_ivf and
#   create_ivf in its hint.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysTAP;

# two models of the same shape (30,000 items x 32 factors), m indexed
my ($node, $ranking, $reference) = shared_ivf_node('shm_lean');
like($reference, qr/^(\d+=[-\d.e]+,){19}\d+=[-\d.e]+$/, 'a private copy ranks 20 items through the index');

# the shared copy's size with the index and without
my ($full, $lean) = shared_copy_sizes($node, $ranking);
my $mb = int(($lean + 1048575) / 1048576);
note("shared copy: $full bytes with the index, $lean without; cache of $mb MB");
cmp_ok($mb * 1048576, '<', $full, "a cache of $mb MB holds the model but not the model and its index");

# a cache of that size (restarted: empty)
$node->append_conf('postgresql.conf', "recsys.shared_cache_size = '${mb}MB'");
$node->restart;
my $publisher = $node->background_psql('postgres');
is($publisher->query_safe($ranking), $reference, 'the publisher answers as a private copy');
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'm' AND bytes <= $lean"),
	'1', 'the model is shared, without its index');
my $reader = $node->background_psql('postgres');
is($reader->query_safe($ranking), $reference, 'an attaching backend probes an index of its own: the same answers');
is($node->safe_psql('postgres', "SELECT attaches FROM recsys.shared_cache_stats() WHERE model = 'm'"),
	'2', 'one copy, published once and attached by the other backend');
$publisher->quit;
$reader->quit;

# a damaged index (an item the model does not know in a list)
$node->safe_psql('postgres', q{
	CREATE TABLE small AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 300) u, generate_series(1, 10) j;
	SELECT 1 FROM recsys.train_cf('small', factors => 4, iterations => 2, model => 'd');
	SELECT 1 FROM recsys.create_ivf('d', lists => 10);
	UPDATE recsys.ivf_lists SET items = items || 987654321::bigint WHERE model = 'd' AND list = 0;
});
my $probing = "SET recsys.ivf_probes = 2;";
my ($ret, $out, $err) = $node->psql('postgres', "$probing SELECT recsys.score(17, 7, 'd') IS NOT NULL");
is($out, 't', 'score serves with a damaged index') or diag($err);
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'd'"),
	'1', 'the model is shared (without the damaged index)');
($ret, $out, $err) = $node->psql('postgres', "$probing SELECT count(*) FROM recsys.similar_items(7, 5, 'd')");
is($out, '5', 'similar_items serves with a damaged index') or diag($err);
($ret, $out, $err) = $node->psql('postgres', "$probing SELECT count(*) FROM recsys.recommend(17, 5, 'd')");
isnt($ret, 0, 'recommend through the damaged index fails');
like($err, qr/IVF index of model "d" version 1 is damaged: an IVF list names an item the model does not know/,
	'the error names the index');
like($err, qr/HINT:  Build the index again: recsys\.drop_ivf\('d'\), then recsys\.create_ivf\('d'\)/,
	'the hint says drop_ivf, create_ivf (not retrain)');
($ret, $out, $err) = $node->psql('postgres', "SET recsys.ivf_probes = 0; SELECT count(*) FROM recsys.recommend(17, 5, 'd')");
is($out, '5', 'recommend without the index serves');
$node->safe_psql('postgres', "SELECT recsys.drop_ivf('d'); SELECT 1 FROM recsys.create_ivf('d', lists => 10)");
is($node->safe_psql('postgres', "$probing SELECT count(*) FROM recsys.recommend(17, 5, 'd')"), '5',
	'rebuilt: recommend probes it');

$node->stop;
done_testing();
