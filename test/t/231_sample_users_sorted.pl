# review s16 (R3): recsys._auto_sample_users, new in 0f9a5fd, cut a
# train_auto validation table to 10,000 users with a DELETE whose
# subquery made the users distinct with a plain SELECT DISTINCT over a
# temp table that is never analysed: the planner assumed 200 groups and
# hashed, and on a large source (3M validation users) the hash table
# spilled in 325 batches, the very pathology 0f9a5fd removed from the
# splits (doc/internals.md, "Splits at scale"); the DELETE also left the
# evaluations the dead rows of the users dropped.  Now the table is made
# anew from the users kept, sorted.  Like TAP 230 for the splits: no
# hash aggregate in the plans of the statements it runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION recsys');

my $offset = -s $node->logfile;
# (in one transaction: the table made anew is ON COMMIT DROP, as all of
# train_auto's are)
my $kept = $node->safe_psql('postgres', q{
	BEGIN;
	CREATE TEMP TABLE _rv_valid AS
	SELECT u::bigint AS user_id, (u % 40 + j)::bigint AS item_id
	FROM generate_series(1, 10050) u, generate_series(1, 2) j;
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on;
	SELECT users || ' of ' || sampled_from FROM recsys._auto_sample_users('_rv_valid', 42);
	SELECT count(*) || ' rows, ' || count(DISTINCT user_id) || ' users' FROM pg_temp._rv_valid;
	COMMIT;
});
is($kept, "10000 of 10050\n20000 rows, 10000 users", 'the table is cut to 10,000 users, their rows all kept');
my $log = substr(slurp_file($node->logfile), $offset);

my @plans = grep { /plan:/ } split /\n(?=\d{4}-\d\d-\d\d )/, $log;
my @found = grep { /_rv_valid/ && /md5/ } @plans;
ok(scalar(@found) > 0, "the plan of the statement choosing the users is logged");
my @hashed = grep { /HashAggregate|MixedAggregate/ } @found;
is(scalar(@hashed), 0, "no hash aggregate in its plan")
	or diag($hashed[0]);

$node->stop;
done_testing();
