# Scheduled retraining with a real pg_cron: a job that calls
# recsys.train_cf runs in a pg_cron background worker, succeeds, writes a
# newer version of the model trained on the data as it is at run time, and
# that version is what recommend serves afterwards, to a new session as
# well as to a session that had already loaded the old one.
#
# pg_cron before 1.5 schedules by the minute at the finest, so with the
# packaged 1.4 this test waits for the next minute boundary (up to 60 s);
# with 1.5 or later it schedules the job every 2 seconds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_cron;
	CREATE EXTENSION recsys;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 500 AS item_id
		FROM generate_series(1, 2000) u, generate_series(1, 20) j;
	CREATE INDEX ON events (user_id);
});

my $v1 = $node->safe_psql('postgres',
	"SELECT version || ' ' || n_users FROM recsys.train_cf('events', factors => 8, iterations => 3)");
is($v1, '1 2000', 'initial model is version 1, trained on 2000 users');
my $v1_trained_at = $node->safe_psql('postgres',
	"SELECT trained_at FROM recsys.models WHERE name = 'default'");

# A session that has served version 1 and stays open across the retrain.
my $server = $node->background_psql('postgres');
my $rec_v1 = $server->query_safe(
	'SELECT string_agg(item_id::text, \',\' ORDER BY score DESC, item_id) FROM recsys.recommend(2001, 10)');

# New data after the initial training: user 2001 is unknown to version 1
# (recommend falls back to popularity), the cron-trained version knows it.
$node->safe_psql('postgres', q{
	INSERT INTO events SELECT 2001, i FROM generate_series(1, 30) i;
	ANALYZE events;
});

my $cron_version = $node->safe_psql('postgres',
	"SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");
my ($major, $minor) = $cron_version =~ /^(\d+)\.(\d+)/ or die "odd pg_cron version $cron_version";
my $schedule = ($major > 1 || ($major == 1 && $minor >= 5)) ? '2 seconds' : '* * * * *';
note "pg_cron $cron_version, schedule '$schedule'";

my $jobid = $node->safe_psql('postgres',
	"SELECT cron.schedule('retrain', '$schedule', "
	  . "\$\$SELECT recsys.train_cf('events', factors => 8, iterations => 3)\$\$)");
like($jobid, qr/^\d+$/, 'retrain job scheduled');

# Wait (bounded by the framework's timeout) for the job's first run to end.
ok( $node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $jobid "
		  . "AND status IN ('succeeded', 'failed')"),
	'the retrain job ran');
my $run = $node->safe_psql('postgres',
	"SELECT status || ' | ' || coalesce(return_message, '') FROM cron.job_run_details "
	  . "WHERE jobid = $jobid AND status IN ('succeeded', 'failed') ORDER BY runid LIMIT 1");
like($run, qr/^succeeded \| /, 'the first run of the retrain job succeeded');

# Unschedule before looking at the result, so no further run races the checks.
is($node->safe_psql('postgres', "SELECT cron.unschedule('retrain')"), 't', 'job unscheduled');
# A run already started when we unscheduled may still be going: wait for it.
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM cron.job_run_details WHERE jobid = $jobid "
		  . "AND status NOT IN ('succeeded', 'failed')"),
	'no run of the job is still going');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM cron.job_run_details WHERE jobid = $jobid AND status <> 'succeeded'"),
	'0', 'no run of the job failed');

my $model = $node->safe_psql('postgres', qq{
	SELECT version > 1, trained_at > '$v1_trained_at', n_users, algorithm, trained_by = current_user
	FROM recsys.models WHERE name = 'default'});
is($model, 't|t|2001|als|t',
	'recsys.models shows a newer version, trained later, on the new data, by the job owner');
is($node->safe_psql('postgres', q{
		SELECT count(*) FROM recsys.model_versions v JOIN recsys.models m
			ON m.name = v.model AND v.version = m.version
		WHERE m.name = 'default'}),
	'1', 'the active version is recorded in recsys.model_versions');

my $rec_q = 'SELECT string_agg(item_id::text, \',\' ORDER BY score DESC, item_id) FROM recsys.recommend(2001, 10)';
my $rec_new = $node->safe_psql('postgres', $rec_q);
is(scalar(split /,/, $rec_new), 10, 'recommend serves 10 items from the cron-trained model');
unlike(",$rec_new,", qr/,(?:[1-9]|[12][0-9]|30),/, 'none of them is an item the new user already has');
is($node->safe_psql('postgres', 'SELECT count(*) FROM recsys.recommend(1, 10)'), '10',
	'recommend works for an old user');
is($node->safe_psql('postgres', q{
		SELECT count(*) FROM recsys.user_factors f JOIN recsys.models m
			ON m.name = f.model AND m.version = f.version
		WHERE m.name = 'default' AND f.user_id = 2001}),
	'1', 'the cron-trained version has factors for the new user');
isnt($rec_new, $rec_v1, 'the new user gets other recommendations than version 1 served');
is($server->query_safe($rec_q), $rec_new,
	'a session that had loaded version 1 now serves the cron-trained version');
is($server->query_safe(q{SELECT recsys.score(2001, item_id) IS NOT NULL
		FROM recsys.item_stats s JOIN recsys.models m ON m.name = s.model AND m.version = s.version
		WHERE m.name = 'default' ORDER BY item_id LIMIT 1}), 't', 'score works in that session');
$server->quit;

is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE jobname = 'retrain'"),
	'0', 'cron.job no longer holds the job');

$node->stop;
done_testing();
