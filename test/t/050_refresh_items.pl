# refresh_items in one session, served by another the same minute:
#
# a session that has the model loaded (its cache holds the version) is
# asked about a product added, and given a vector, by another session
# after it first served: the refresh changes the catalog row's fingerprint,
# so the long-lived session reloads and serves the new item at its next
# statement (recommend with candidates, score, similar_items), for the
# factor kind and the item neighbourhood kind; and a refresh rolled back
# leaves the item unserved.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('refresh_items');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev AS SELECT u AS user_id, i AS item_id
		FROM generate_series(1, 40) u, generate_series(1, 20) i
		WHERE (u <= 20) = (i <= 10) AND (u + i) % 3 <> 0;
	CREATE TABLE feats (item_id bigint, feature text);
	INSERT INTO feats SELECT i, CASE WHEN i <= 10 THEN 'cat:a' ELSE 'cat:b' END FROM generate_series(1, 20) i;
	CREATE TABLE emb (item_id bigint, v real[]);
	INSERT INTO emb SELECT i, CASE WHEN i <= 10 THEN '{1,0}'::real[] ELSE '{0,1}' END FROM generate_series(1, 20) i;
	SELECT 1 FROM recsys.train_cf('ev', factors => 4, model => 'f', features => 'feats', embeddings => 'emb');
	SELECT 1 FROM recsys.train_item_knn('ev', 5, model => 'k', features => 'feats');
});

my $reader = $node->background_psql('postgres');
is($reader->query_safe("SELECT count(*) FROM recsys.recommend(25, 3, 'f')"), '3', 'the reader serves f');
is($reader->query_safe("SELECT count(*) FROM recsys.recommend(25, 3, 'k')"), '3', 'the reader serves k');
is($reader->query_safe("SELECT recsys.score(25, 999001, 'f') IS NULL"), 't', 'the new product is unknown before');

# rolled back: nothing served
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO feats VALUES (999001, 'cat:b');
	INSERT INTO emb VALUES (999001, '{0.1,0.9}');
	SELECT recsys.refresh_items('f'), recsys.refresh_items('k');
	ROLLBACK;
});
is($reader->query_safe("SELECT recsys.score(25, 999001, 'f') IS NULL"), 't', 'a rolled-back refresh adds nothing');

is($node->safe_psql('postgres', q{
	INSERT INTO feats VALUES (999001, 'cat:b');
	INSERT INTO emb VALUES (999001, '{0.1,0.9}');
	SELECT recsys.refresh_items('f') || ',' || recsys.refresh_items('k');
}), '1,1', 'another session refreshes both models');

is($reader->query_safe(
	"SELECT string_agg(item_id::text, ',') FROM recsys.recommend(25, 1, 'f', candidates => ARRAY[999001, 5]::bigint[])"),
	'999001', 'the long-lived session recommends the new product (factors)');
is($reader->query_safe(
	"SELECT string_agg(item_id::text, ',') FROM recsys.recommend(25, 1, 'k', candidates => ARRAY[999001, 5]::bigint[])"),
	'999001', 'the long-lived session recommends the new product (neighbours)');
is($reader->query_safe(
	"SELECT recsys.score(25, 999001, 'f') > recsys.score(1, 999001, 'f')"),
	't', 'its score follows its features: a b-user scores it above an a-user');
is($reader->query_safe("SELECT count(*) FROM recsys.similar_items(999001, 3, 'k') WHERE item_id > 10"),
	'3', 'its neighbours are b items');
$reader->quit;
$node->stop;
done_testing();
