# train_bpr with time_col and half_life (0.9.0) refits every user's vector
# after the items are trained (refit_users in src/train_bpr.c, one thread,
# an interrupt check per chunk of epochs).  A cancel that lands in that
# refit must stop it within the second, and leave the previous version
# serving.  The setup trains once and reports the read, the fit and the
# refit (the fit's last part; the write comes after).  The cancel is sent
# when recsys.progress shows the last epoch done and the phase still
# fitting: the refit is running (a statement timeout computed from the
# setup's seconds once fired after a faster second training had ended).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('bpr_recent_cancel');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	-- 2,000 users of 64 items each among 5,000, one a minute
	CREATE TABLE bought AS
		SELECT u AS user_id, (u * 37 + j * 101) % 5000 AS item_id,
			   timestamptz '2024-01-01 00:00+00' + (u * 64 + j) * interval '1 minute' AS ts
		FROM generate_series(1, 2000) u, generate_series(0, 63) j;
});
my $args = q{factors => 256, iterations => 20, model => 'recent'};
$node->safe_psql('postgres', qq{SET recsys.threads = 2;
	SELECT 1 FROM recsys.train_bpr('bought', $args, time_col => 'ts', half_life => '1 day')});
my ($read, $fit, $refit) = split / /, $node->safe_psql('postgres', q{
	SELECT concat_ws(' ', stats->>'read_seconds', stats->>'fit_seconds', stats->>'refit_seconds')
	FROM recsys.models WHERE name = 'recent'});
note(sprintf('setup: read %.2f s, fit %.2f s of which the refit %.2f s', $read, $fit, $refit));
my $version = $node->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'recent'});

my ($out, $err) = ('', '');
my $h = IPC::Run::start(['psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	qq{SET recsys.threads = 2; SELECT 1 FROM recsys.train_bpr('bought', $args, time_col => 'ts', half_life => '1 day')}],
	'>', \$out, '2>', \$err);
my $pid = '';
my $deadline = time + 120;
while ($pid eq '' && time < $deadline)
{
	$pid = $node->safe_psql('postgres', q{SELECT pid FROM recsys.progress
		WHERE model = 'recent' AND phase = 'fitting' AND iteration = iterations});
	sleep 0.02 if $pid eq '';
}
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)") if $pid ne '';
$h->finish;
my $elapsed = time - $t0;
note(sprintf('cancelled in the refit, returned %.3f s after the cancel', $elapsed));
like($err, qr/canceling statement due to user request/, 'cancelled while refitting');
cmp_ok($elapsed, '<', 1.2, 'returns within 1.2 s of the cancel');
is($node->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'recent'}),
	$version, 'the previous version still serves');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recsys.recommend(7, 5, 'recent')}), '5',
	'and recommends');

$node->stop;
done_testing();
