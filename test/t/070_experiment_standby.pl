# Experiments on a hot standby: assignment is the same as on the primary
# (a keyed SHA-256 of the user id, the key in the replicated catalog row),
# recommend_for_experiment serves the same rows, logs nothing (the standby
# cannot write) and says so once per session, with a hint naming how to
# log from the primary; interleaved lists are the same too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 200 AS item_id
		FROM generate_series(1, 500) u, generate_series(1, 10) j;
	SELECT 1 FROM recsys.train_popular('events', model => 'pop');
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 3, model => 'als');
	SELECT 1 FROM recsys.create_experiment('ab',
		'[{"name": "A", "model": "pop"}, {"name": "B", "model": "als", "diversity": 0.2, "similarity_model": "als"}]',
		holdout => 0.1, salt => 'standby-ab');
	SELECT 1 FROM recsys.create_experiment('il',
		'[{"name": "pop", "model": "pop"}, {"name": "als", "model": "als"}]', design => 'interleaving',
		salt => 'standby-il');
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my $assign = q{SELECT string_agg(recsys.assign('ab', u), ',' ORDER BY u) FROM generate_series(1, 300) u};
is($standby->safe_psql('postgres', $assign), $primary->safe_psql('postgres', $assign),
	'the standby assigns every user as the primary does');

my $serve = q{SELECT string_agg(u || ':' || r.variant || ':' || r.item_id || '@' || r.position, ',' ORDER BY u, r.position)
	FROM generate_series(1, 60) u, recsys.recommend_for_experiment('ab', u, 5, log => false) r};
my $on_primary = $primary->safe_psql('postgres', $serve);
like($on_primary, qr/:A:.*:B:/, 'both variants serve');
is($standby->safe_psql('postgres', $serve), $on_primary, 'the standby serves the same rows');

my $il = q{SELECT string_agg(u || ':' || r.team || ':' || r.item_id, ',' ORDER BY u, r.position)
	FROM generate_series(1, 40) u, recsys.recommend_interleaved('il', u, 6, log => false) r};
is($standby->safe_psql('postgres', $il), $primary->safe_psql('postgres', $il),
	'the standby interleaves as the primary does');

# two users outside the holdout (which is shown nothing)
my ($u1, $u2) = split /\n/, $primary->safe_psql('postgres',
	q{SELECT u FROM generate_series(1, 100) u WHERE recsys.assign('ab', u) <> 'holdout' ORDER BY u LIMIT 2});

# with log => true (the default): served, not logged, one NOTICE per session
my ($ret, $out, $err) = $standby->psql('postgres', qq{
	SELECT count(*) FROM recsys.recommend_for_experiment('ab', $u1, 5);
	SELECT count(*) FROM recsys.recommend_for_experiment('ab', $u2, 5);
	SELECT count(*) FROM recsys.recommend_interleaved('il', 9, 5);
});
is($ret, 0, 'serving with log => true works on the standby');
is($out, "5\n5\n5", 'and returns the lists');
my @notices = ($err =~ /NOTICE:  impressions are not logged on a hot standby/g);
is(scalar @notices, 1, 'one NOTICE per session');
like($err, qr/HINT:  Log them from the application on the primary/, 'with a hint naming the pattern');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM recsys.experiment_impressions'), '0',
	'nothing was logged');
($ret, $out, $err) = $standby->psql('postgres', qq{SELECT recsys.log_outcome('ab', $u1)});
isnt($ret, 0, 'log_outcome on the standby fails');
like($err, qr/read-only transaction/, 'with the read-only error');

# the pattern: the application logs on the primary what the standby served
my $rows = $standby->safe_psql('postgres',
	qq{SELECT string_agg(format('(%L, %L, %s, %s, %s)', 'ab', r.variant, $u1, r.item_id, r.position), ',')
	  FROM recsys.recommend_for_experiment('ab', $u1, 5, log => false) r});
$primary->safe_psql('postgres',
	"INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position) VALUES $rows");
$primary->safe_psql('postgres', qq{SELECT recsys.log_outcome('ab', $u1)});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres',
	qq{SELECT users || ' ' || conversions FROM recsys.experiment_results('ab') WHERE variant = recsys.assign('ab', $u1)}),
	'1 1', 'the results, read on the standby, count what the primary logged');

$standby->stop;
$primary->stop;
done_testing();
