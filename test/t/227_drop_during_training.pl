# Review s10 (fixr), finding 11: drop_model waits for a training of the
# same name in progress (it takes the training lock), then drops what
# that training committed.  Before, it returned at once: for a new model
# "does not exist" (or nothing with if_exists), and the training then
# committed the model anyway; for an existing one it dropped the old rows
# and the training recreated the model as version 1, its grants gone.
#
# (a) a new model in training: drop_model waits and then drops it;
# (b) a retrain in progress: drop_model waits, then the model is gone,
#     not back as version 1;
# (c) lock_timeout bounds the wait: 55P03 naming the model, the model kept;
# (d) a name no model can have (64 bytes) is not locked: the usual
#     "does not exist".
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use RecsysTAP;

my $node = PostgreSQL::Test::Cluster->new('drop_during_training');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE ev AS SELECT u AS user_id, i AS item_id
		FROM generate_series(1, 40) u, generate_series(1, 20) i WHERE (u + i) % 3 <> 0;
});
my $models = q{SELECT coalesce(string_agg(name || ':' || version, ','), 'none') FROM recsys.models};

# a session that trains $model and keeps its transaction open
my $holder = $node->background_psql('postgres');
sub hold
{
	my ($model) = @_;
	$holder->query_safe('BEGIN');
	return $holder->query_safe("SELECT version FROM recsys.train_popular('ev', model => '$model')");
}

# run $sql in a new session; the holder commits after $commit_after
# seconds (never if undef); returns (stdout, stderr, seconds)
sub meet
{
	my ($sql, $commit_after) = @_;
	return meet_while_held($node, $holder, $sql, $commit_after, sub {
		my ($pid) = @_;
		is($node->safe_psql('postgres',
			"SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity WHERE pid = $pid"),
			'Lock:advisory', 'drop_model waits for the training lock');
	});
}

# (a) a new model
is(hold('fresh'), '1', '(a) an uncommitted training of a new model "fresh"');
my ($out, $err, $elapsed) = meet("SET lock_timeout = '30s';\nSELECT recsys.drop_model('fresh')", 1);
is($err, '', '(a) drop_model does not fail (before: "does not exist" at once)');
is($node->safe_psql('postgres', $models), 'none', '(a) and the committed model is gone');
note sprintf('(a) drop_model returned after %.2f s', $elapsed);

# (b) a retrain of an existing model with a grantee
$node->safe_psql('postgres', q{
	SELECT 1 FROM recsys.train_popular('ev', model => 'kept');
	CREATE ROLE regress_recsys_fixr_reader;
	SELECT recsys.grant_model('kept', 'regress_recsys_fixr_reader');
});
is(hold('kept'), '2', '(b) an uncommitted retrain holds version 2');
($out, $err, $elapsed) = meet("SET lock_timeout = '30s';\nSELECT recsys.drop_model('kept')", 1);
is($err, '', '(b) drop_model does not fail');
is($node->safe_psql('postgres', $models), 'none',
	'(b) the model is gone, not recreated as version 1 by the training');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.model_versions WHERE model = 'kept'}), '0',
	'(b) with all its versions');

# (c) the wait is bounded
$node->safe_psql('postgres', q{SELECT 1 FROM recsys.train_popular('ev', model => 'busy')});
is(hold('busy'), '2', '(c) an uncommitted retrain of "busy"');
($out, $err, $elapsed) = meet("SET lock_timeout = '300ms';\nSELECT recsys.drop_model('busy')", undef);
like($err, qr/ERROR:  model "busy" is being trained by another session/,
	'(c) with lock_timeout 300ms drop_model fails with the training lock\'s error');
cmp_ok($elapsed, '>=', 0.3, '(c) after waiting lock_timeout');
$holder->query_safe('COMMIT');
is($node->safe_psql('postgres', $models), 'busy:2', '(c) and the model is kept, at the retrained version');

# (d) a name longer than any model's
my ($rc, $stdout, $stderr) = $node->psql('postgres', "SELECT recsys.drop_model(repeat('x', 64))");
like($stderr, qr/model "x{63}\.\.\." does not exist/, '(d) a 64-byte name: "does not exist", as before');
($rc, $stdout, $stderr) = $node->psql('postgres', "SELECT recsys.drop_model(repeat('x', 64), if_exists => true)");
is($stderr, '', '(d) or nothing with if_exists');

$holder->quit;
$node->safe_psql('postgres', q{
	SELECT recsys.drop_model('busy');
	DROP ROLE regress_recsys_fixr_reader;
});
$node->stop;
done_testing();
