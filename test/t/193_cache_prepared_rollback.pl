# A model a session loads while its transaction has edited the model's
# tables leaves the session's cache when that transaction is prepared
# (review s11, R3): PREPARE TRANSACTION ends the session's transaction
# but not its outcome, and a ROLLBACK PREPARED (here in the same session,
# equally from another) fires no callback in the session that loaded the
# model.  Before, the session kept serving the rolled-back edit, as it
# did after a plain ROLLBACK before review s11's F8 (tested in the
# review_s11_fixr pg_regress test, whose cluster cannot prepare).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prepared_rollback');
$node->init;
$node->append_conf('postgresql.conf', "max_prepared_transactions = 2");
$node->start;
# 30 users x 10 items; features of those and of 101, 102 (cold)
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev (user_id bigint, item_id bigint);
	INSERT INTO ev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
	CREATE TABLE feat (item_id bigint, feature text);
	INSERT INTO feat SELECT i, CASE WHEN i <= 5 THEN 'tea' ELSE 'cake' END FROM generate_series(1, 10) i;
	INSERT INTO feat SELECT i, 'green' FROM generate_series(1, 10, 2) i;
	INSERT INTO feat VALUES (101, 'tea'), (101, 'green'), (102, 'cake');
	SELECT 1 FROM recsys.train_cold_ranker('ev', 'feat', model => 'cr', coefficients => '{0,1,0,0}', regularization => 1);
});
my $top = q{SELECT string_agg(item_id || ':' || round(score::numeric, 2), ' ' ORDER BY item_id) FROM recsys.recommend(999, 3, 'cr')};
my $committed = $node->safe_psql('postgres', $top);
isnt($committed, '', "the cold re-ranker serves user 999 ($committed)");

# one session: edit, load, prepare, roll the prepared transaction back,
# serve again
my $out = $node->safe_psql('postgres', qq{
	BEGIN;
	UPDATE recsys.item_term_lists SET scores = '{1000}' WHERE model = 'cr' AND term = 'prior' AND item_id = 101;
	$top;
	PREPARE TRANSACTION 'edit';
	ROLLBACK PREPARED 'edit';
	$top;
});
my ($edited, $after) = split /\n/, $out;
isnt($edited, $committed, "the edit is served inside its transaction ($edited)");
is($after, $committed, 'after ROLLBACK PREPARED the session serves the committed model again');

# a prepared edit that commits is served too (the model's row unchanged:
# the reload reads the committed edit)
$out = $node->safe_psql('postgres', qq{
	BEGIN;
	UPDATE recsys.item_term_lists SET scores = '{1000}' WHERE model = 'cr' AND term = 'prior' AND item_id = 101;
	$top;
	PREPARE TRANSACTION 'edit2';
	COMMIT PREPARED 'edit2';
	$top;
});
($edited, $after) = split /\n/, $out;
is($after, $edited, 'after COMMIT PREPARED the session serves the committed edit');

$node->stop;
done_testing();
