# recsys.search on a hot standby: a catalog indexed on the primary reaches
# a streaming standby by WAL replay, and search (personalised, anonymous,
# prefix and typo matching) gives there exactly the rows it gives on the
# primary.  A product added and refreshed on the primary is found on the
# standby after replay; refreshing on the standby is refused (read-only).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE EXTENSION pg_trgm;
	CREATE TABLE products AS
		SELECT i AS item_id,
			   (ARRAY['red', 'blue', 'green', 'white'])[1 + i % 4] || ' '
			   || (ARRAY['lunch bag', 'metal sign', 'cake cases', 'tea cup', 'heart holder'])[1 + i % 5]
			   || ' ' || i AS title
		FROM generate_series(0, 499) i;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3);
	SELECT recsys.index_catalog('products');
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my @queries = ('lunch bag', 'metal', 'cake cas', 'lunhc bag', 'tea -red', 'holder 17');
my @users = ('NULL', 1, 17, 1999, 99999);

sub answers
{
	my ($node) = @_;
	my @out;
	for my $q (@queries)
	{
		for my $u (@users)
		{
			push @out, "$q / $u: " . $node->safe_psql('postgres',
				"SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
				  . "FROM recsys.search('$q', $u, 10)");
		}
	}
	return join("\n", @out) . "\n";
}

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'on a standby');
my $p1 = answers($primary);
like($p1, qr/^lunch bag \/ 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'the primary finds 10 lunch bags for user 1');
like($p1, qr/^lunhc bag \/ NULL: \d+=/m, 'a typo is corrected');
like($p1, qr/^cake cas \/ NULL: \d+=/m, 'the last word is a prefix');
is(answers($standby), $p1, 'the standby searches exactly as the primary');

# a new product, searchable after refresh_catalog once replayed
$primary->safe_psql('postgres', q{
	INSERT INTO products VALUES (1000, 'golden teapot');
	SELECT recsys.refresh_catalog();
});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT string_agg(item_id::text, ',') FROM recsys.search('teapot')"),
	'1000', 'the new product is found on the standby');

my ($ret, $out, $err) = $standby->psql('postgres', 'SELECT recsys.refresh_catalog()');
isnt($ret, 0, 'refresh_catalog fails on the standby');
# (at once, naming the function: review s8, fixr2 4)
like($err, qr/cannot execute recsys\.refresh_catalog\(\) during recovery/, '... at once, naming the function');

done_testing();
