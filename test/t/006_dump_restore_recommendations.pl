# Trained models survive pg_dump -Fc and pg_restore into a fresh
# database not just row for row (001) but in what they serve: an
# implicit ALS model, an explicit matrix factorisation model, an
# item-kNN model and a blend of the kNN and ALS models, trained for
# real, give exactly the same recommend, similar_items (not for the
# blend) and score results in the restored database (whose
# source tables came along in the dump), and training continues there
# with the next version number.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dumprec');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
	CREATE TABLE ratings AS
		SELECT user_id, item_id, 1 + (user_id * 3 + item_id) % 5 AS stars FROM events;
	CREATE INDEX ON ratings (user_id);
});
$node->safe_psql('shop', q{
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, seed => 7);
	SELECT 1 FROM recsys.train_cf('ratings', feedback => 'explicit', weight_col => 'stars',
		model => 'stars', factors => 8, iterations => 3);
	SELECT 1 FROM recsys.train_item_knn('events', neighbors => 20, model => 'default_knn');
	SELECT 1 FROM recsys.train_blend('{default_knn,default}', '{1,0.5}', 'mix');
});

my @users = (1, 2, 17, 500, 1234, 2000, 99999);    # 99999: unknown to every model
my @items = (0, 7, 250, 499);

# What the models serve, as one deterministic text.
sub served
{
	my ($db) = @_;
	my @q;
	for my $model ('default', 'stars', 'default_knn', 'mix')
	{
		for my $u (@users)
		{
			push @q, "SELECT '$model recommend $u: ' || coalesce(string_agg(item_id || '=' || score, ',' "
			  . "ORDER BY score DESC, item_id), '') FROM recsys.recommend($u, 10, '$model')";
			push @q, "SELECT '$model score $u: ' || coalesce(string_agg(coalesce(recsys.score($u, i, '$model')::text, 'null'), ',' ORDER BY i), '') "
			  . "FROM unnest('{0,7,250,499,100000}'::bigint[]) i";
		}
		next if $model eq 'mix';
		for my $i (@items)
		{
			push @q, "SELECT '$model similar $i: ' || coalesce(string_agg(item_id || '=' || score, ',' "
			  . "ORDER BY score DESC, item_id), '') FROM recsys.similar_items($i, 10, '$model')";
		}
	}
	push @q, "SELECT string_agg(concat_ws(' ', name, version, algorithm, source, trained_at, params, stats, "
	  . "n_users, n_items, n_interactions), E'\\n' ORDER BY name) FROM recsys.models";
	return $node->safe_psql($db, join(";\n", @q));
}

my $before = served('shop');
note $before;
like($before, qr/^default recommend 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'ALS model recommends');
like($before, qr/^stars recommend 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'explicit model recommends');
like($before, qr/^default_knn recommend 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'item-kNN model recommends');
like($before, qr/^mix recommend 1: (\d+=[-\d.e]+,){9}\d+=[-\d.e]+$/m, 'the blend recommends');
like($before, qr/^default 2 als public\.events /m, 'the ALS model is at version 2');

my $dump = $node->basedir . '/shop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('shop'), '-f', $dump ], 'pg_dump -Fc');

$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore into a fresh database');
is($node->safe_psql('restored', 'SELECT count(*) FROM events'), '40000', 'the source table came along');

my $after = served('restored');
is($after, $before, 'the restored database serves exactly the same results');

# the same in a session that first served the restored models, then
# serves a retrained one: training continues with the next version
is($node->safe_psql('restored',
		"SELECT version FROM recsys.train_cf('events', factors => 8, iterations => 3, seed => 7)"),
	'3', 'retraining in the restored database gives version 3');
is($node->safe_psql('restored',
		"SELECT version FROM recsys.train_item_knn('events', neighbors => 20, model => 'default_knn')"),
	'2', 'retraining the item-kNN model gives version 2');
my $retrained = served('restored');
my ($r_before) = $before =~ /^(default recommend 1: .*)$/m;
my ($r_after) = $retrained =~ /^(default recommend 1: .*)$/m;
is($r_after, $r_before, 'the same seed on the restored source gives the same recommendations');

# the original is untouched by all this
is(served('shop'), $before, 'the original database still serves the same');

$node->stop;
done_testing();
