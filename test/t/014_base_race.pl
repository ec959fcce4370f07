# A re-ranker's base or a blend's member dropped while the model built on
# it waits to lock its catalog row: once the drop commits, the training
# fails with "model ... does not exist" instead of succeeding on a model
# that is gone (its statement's snapshot still showed the row).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('base_race');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE buys AS
		SELECT u AS user_id, 1 + (u * 7 + j * 3) % 30 AS item_id
		FROM generate_series(1, 60) u, generate_series(0, 5) j;
	SELECT 1 FROM recsys.train_popular('buys', model => 'pop');
});

# $trainer_sql waits on the row lock of $base, dropped in an open
# transaction; the drop commits; the training must fail.
sub race
{
	my ($base, $trainer_sql, $label) = @_;
	$node->safe_psql('postgres',
		"SELECT 1 FROM recsys.train_cf('buys', factors => 4, iterations => 2, model => '$base')");
	my $dropper = $node->background_psql('postgres');
	$dropper->query_safe('BEGIN');
	$dropper->query_safe("SELECT recsys.drop_model('$base')");
	my $trainer = $node->background_psql('postgres', on_error_stop => 0);
	$trainer->query_until(qr/started/, "\\echo started\n$trainer_sql;\n");
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) >= 1 FROM pg_locks WHERE NOT granted"),
		"$label: the training waits for the drop");
	$dropper->query_safe('COMMIT');
	$dropper->quit;
	$trainer->query('SELECT 1');
	like($trainer->{stderr}, qr/model "$base" does not exist/,
		"$label: after the drop commits, the training fails");
	$trainer->quit;
	is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.models WHERE name IN ('$base', 'r', 'bl')"),
		'0', "$label: neither the base nor the new model exists");
}

race('x', "SELECT 1 FROM recsys.train_fm('buys', 'x', model => 'r', factors => 4, epochs => 2)",
	'train_fm');
race('y', "SELECT 1 FROM recsys.train_blend(ARRAY['pop', 'y'], ARRAY[1, 1], model => 'bl')",
	'train_blend');

# A role that may not use a model does not lock its row: it is refused
# at once, not queued behind the owner's open transaction (the lock is
# taken with the catalog owner's rights only after the use check).  The
# same for a re-ranker's base and a NeuMF model's pretrained model.
$node->safe_psql('postgres', q{
	CREATE ROLE regress_recsys_fixn_alice;
	CREATE ROLE regress_recsys_fixn_bob;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
		TO regress_recsys_fixn_alice, regress_recsys_fixn_bob;
	GRANT SELECT ON buys TO regress_recsys_fixn_alice, regress_recsys_fixn_bob;
	SET ROLE regress_recsys_fixn_alice;
	SELECT 1 FROM recsys.train_cf('buys', factors => 4, iterations => 2, model => 'alices');
});
my $owner = $node->background_psql('postgres');
$owner->query_safe('BEGIN');
$owner->query_safe("SELECT FROM recsys.models WHERE name = 'alices' FOR UPDATE");
for my $case (
	[ 'train_ncf', "recsys.train_ncf('buys', 4, 'bobs', iterations => 0, pretrained => 'alices')" ],
	[ 'train_fm', "recsys.train_fm('buys', 'alices', model => 'bobs', factors => 4, epochs => 1)" ])
{
	my ($label, $call) = @$case;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET lock_timeout = '3s'; SET ROLE regress_recsys_fixn_bob; SELECT 1 FROM $call");
	like($err, qr/permission denied to use model "alices"/,
		"$label: a role that may not use the model is refused");
	unlike($err, qr/lock timeout/, "$label: without waiting for the owner's row lock");
}
$owner->query_safe('COMMIT');
$owner->quit;
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.models WHERE name = 'bobs'"),
	'0', 'no model made');

$node->stop;
done_testing();
