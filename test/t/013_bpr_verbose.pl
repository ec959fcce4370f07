# train_bpr(verbose => true) raises one NOTICE per epoch with the epoch's
# mean loss and seconds, and marks the adversarial epochs (the second half
# when adversarial_epsilon > 0); without verbose it raises none.  A TAP
# test because the seconds differ from run to run.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('bpr_verbose');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE blocks AS
		SELECT u AS user_id, 100 + 16 * ((u - 1) / 32) + j AS item_id
		FROM generate_series(1, 256) u, generate_series(0, 15) j WHERE j <> u % 16;
});

my ($stdout, $stderr);
$node->psql('postgres',
	q{SELECT name FROM recsys.train_bpr('blocks', factors => 8, iterations => 10, verbose => true,
		learning_rate => 0.3, adversarial_epsilon => 0.1)},
	stdout => \$stdout, stderr => \$stderr);
is($stdout, 'default', 'trained');
my @epochs = $stderr =~ /NOTICE:  train_bpr epoch (\d+) of 10: loss (\d+\.\d{6})( \(adversarial\))?\nDETAIL:  \d+\.\d{3} s in this epoch/g;
my @numbers = map { $epochs[3 * $_] } 0 .. $#epochs / 3;
is_deeply(\@numbers, [1 .. 10], 'one NOTICE per epoch, in order');
my @adversarial = map { defined $epochs[3 * $_ + 2] ? 1 : 0 } 0 .. $#epochs / 3;
is_deeply(\@adversarial, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 'the second half is adversarial');
cmp_ok($epochs[3 * 4 + 1], '<', 0.9 * $epochs[1], 'the loss falls over the plain epochs');

$node->psql('postgres',
	q{SELECT name FROM recsys.train_bpr('blocks', factors => 8, iterations => 3, model => 'quiet')},
	stdout => \$stdout, stderr => \$stderr);
is($stderr, '', 'no NOTICE without verbose');

$node->stop;
done_testing();
