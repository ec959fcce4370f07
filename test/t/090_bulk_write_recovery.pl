# The bulk write path (recsys.bulk_write: factor and item_stats rows by
# heap multi-insert, src/model_store.c) is WAL-logged like any INSERT:
# a model written in bulk survives a crash of the primary (immediate stop,
# replay at restart) row for row, reaches a streaming standby identical,
# and equals, row for row, the model the SPI path writes with the same
# seed (known by construction: the same fit, two ways of storing it).
# Also: an uncommitted bulk write vanishes after the crash, and the
# primary key still refuses a duplicate row after replay (the index
# entries were logged too).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysTAP;

my ($primary, $standby) = primary_and_standby(q{
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 3000 AS item_id
		FROM generate_series(1, 5000) u, generate_series(1, 12) j;
});

# A model's stored rows as one digest (its name left out).
sub digest
{
	my ($node, $model) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT md5(string_agg(t, E'\\n' ORDER BY t)) FROM (
			SELECT 'u ' || user_id || ' ' || bias || ' ' || factors::text AS t
			FROM recsys.user_factors WHERE model = '$model'
			UNION ALL SELECT 'i ' || item_id || ' ' || bias || ' ' || factors::text
			FROM recsys.item_factors WHERE model = '$model'
			UNION ALL SELECT 's ' || item_id || ' ' || n_users || ' ' || weight_sum || ' ' || popularity
			FROM recsys.item_stats WHERE model = '$model') rows});
}

sub count_rows
{
	my ($node, $model) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM recsys.user_factors WHERE model = '$model') || ' '
		    || (SELECT count(*) FROM recsys.item_factors WHERE model = '$model') || ' '
		    || (SELECT count(*) FROM recsys.item_stats WHERE model = '$model')});
}

$primary->safe_psql('postgres', q{
	SET recsys.bulk_write = on;
	SELECT 1 FROM recsys.train_cf('events', factors => 16, iterations => 2, model => 'bulk');
	SET recsys.bulk_write = off;
	SELECT 1 FROM recsys.train_cf('events', factors => 16, iterations => 2, model => 'spi');
});
is(count_rows($primary, 'bulk'), '5000 3000 3000', 'every row written in bulk');
my $bulk = digest($primary, 'bulk');
is($bulk, digest($primary, 'spi'), 'the bulk rows equal the SPI rows of the same fit');
my $recs = $primary->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(42, 10, 'bulk')");

# a bulk write left uncommitted when the primary crashes
crash_during_bulk_write($primary,
	q{SELECT 1 FROM recsys.train_cf('events', factors => 16, iterations => 2, model => 'open')});

is(digest($primary, 'bulk'), $bulk, 'the bulk rows survive a crash (replayed) unchanged');
is($primary->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(42, 10, 'bulk')"),
	$recs, 'and serve the same recommendations');
is($primary->safe_psql('postgres', "SELECT count(*) FROM recsys.item_factors WHERE model = 'open'"),
	'0', 'an uncommitted bulk write is gone after the crash');
my ($ret, $out, $err) = $primary->psql('postgres',
	"INSERT INTO recsys.item_factors SELECT model, version, item_id, bias, factors "
	  . "FROM recsys.item_factors WHERE model = 'bulk' LIMIT 1 OFFSET 1234");
like($err, qr/duplicate key value violates unique constraint/,
	'the primary key indexes the replayed rows');

$primary->wait_for_catchup($standby);
is(digest($standby, 'bulk'), $bulk, 'the standby has the same rows');
is($standby->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.recommend(42, 10, 'bulk')"),
	$recs, 'and serves the same recommendations');

$standby->stop;
$primary->stop;
done_testing();
