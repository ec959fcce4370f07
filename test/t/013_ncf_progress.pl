# train_ncf(verbose => true) reports each epoch as a NOTICE (loss and
# seconds vary, so this is checked here rather than in pg_regress), and
# says nothing without verbose.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ncf_progress');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE buys AS
		SELECT u AS user_id, (u * 7 + j * 3) % 40 AS item_id
		FROM generate_series(1, 50) u, generate_series(1, 6) j;
});

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT 1 FROM recsys.train_ncf('buys', 4, model => 'n', iterations => 3, verbose => true)});
is($ret, 0, 'verbose training succeeds');
my @epochs = $stderr =~ /NOTICE:  train_ncf epoch (\d) of 3: loss \d+\.\d{6}\nDETAIL:  \d+\.\d{3} s in this epoch/g;
is_deeply(\@epochs, [ 1, 2, 3 ], 'one NOTICE per epoch, in order, with loss and seconds');

($ret, $stdout, $stderr) = $node->psql('postgres',
	q{SELECT 1 FROM recsys.train_ncf('buys', 4, model => 'n', iterations => 3)});
is($ret, 0, 'quiet training succeeds');
unlike($stderr, qr/NOTICE/, 'no NOTICE without verbose');

$node->stop;
done_testing();
