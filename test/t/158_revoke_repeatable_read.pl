# A revoked grant reaches a REPEATABLE READ transaction begun before it
# (review s12, V7).  The right to use a model was checked through the
# statement's snapshot, which in REPEATABLE READ is the transaction's: a
# role whose grant was revoked after such a transaction began kept
# serving the model (and reading its owner's source through it) until it
# ended.  Now the latest committed catalog row must allow it too, as
# PostgreSQL's REVOKE on a table takes effect at once; READ COMMITTED,
# whose statements take their own snapshots, is unchanged.  A grant made
# after the snapshot does not reach the transaction: its row must be
# seen in the snapshot as well (the stricter of the two counts).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('revoke_rr');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE ROLE alice;
	CREATE ROLE mallory;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO alice, mallory;
	CREATE TABLE ev AS SELECT u AS user_id, (u * 7 + j) % 20 AS item_id
		FROM generate_series(1, 50) u, generate_series(1, 5) j;
	GRANT SELECT ON ev TO alice;
	SET ROLE alice;
	SELECT recsys.train_popular('ev', 'pop');
	SELECT recsys.grant_model('pop', 'mallory');
});
my $serve = q{SELECT count(*) FROM recsys.recommend(1, 3, 'pop')};

my $reader = $node->background_psql('postgres', on_error_stop => 0);
$reader->query_safe('SET ROLE mallory');
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($reader->query_safe($serve), '3', 'the grantee serves the model in a repeatable read transaction');

$node->safe_psql('postgres', q{SET ROLE alice; SELECT recsys.revoke_model('pop', 'mallory')});
$reader->{stderr} = '';
$reader->query($serve);
like($reader->{stderr}, qr/permission denied to use model "pop", owned by role "alice"/,
	'the revoke reaches the open transaction at its next statement');
$reader->{stderr} = '';
$reader->query_safe('ROLLBACK');

# a grant after the snapshot does not reach it; READ COMMITTED is as before
$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$reader->query_safe('SELECT 1 FROM recsys.models');
$node->safe_psql('postgres', q{SET ROLE alice; SELECT recsys.grant_model('pop', 'mallory')});
$reader->{stderr} = '';
$reader->query($serve);
like($reader->{stderr}, qr/permission denied to use model "pop"/,
	'a grant after the snapshot: the row in the snapshot still refuses');
$reader->{stderr} = '';
$reader->query_safe('ROLLBACK');
$reader->query_safe('BEGIN');
is($reader->query_safe($serve), '3', 'read committed: served after the grant');
$node->safe_psql('postgres', q{SET ROLE alice; SELECT recsys.revoke_model('pop', 'mallory')});
$reader->{stderr} = '';
$reader->query($serve);
like($reader->{stderr}, qr/permission denied to use model "pop"/, 'read committed: refused at the next statement');
$reader->{stderr} = '';
$reader->query_safe('ROLLBACK');
$reader->quit;

done_testing();
