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

$node->stop;
done_testing();
