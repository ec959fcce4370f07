# The splits make their (user, item) pairs distinct by sorting, never by
# hashing (s16): on PostgreSQL 15 a hash aggregate over 3.8M distinct
# pairs that spills to disk took more than 30 s on half the runs (over
# 6 minutes once, inside split_holdout), where DISTINCT ON's sort took
# 1.3 s every time (doc/internals.md, "Splits at scale").  auto_explain
# logs the plans of the statements split_holdout, split_kfold, split_last
# and train_auto's global time cut run; none may hash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	-- 80 users with 20 items each (of 60), a time per row, some pairs twice
	CREATE TABLE ev AS
	SELECT u AS user_id, 1 + (u * 7 + j * 3) % 60 AS item_id, u * 100 + j AS ts
	FROM generate_series(1, 80) u, generate_series(1, 20) j;
	INSERT INTO ev SELECT user_id, item_id, ts + 5000 FROM ev WHERE ts % 7 = 0;
	ANALYZE ev;
});

my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	LOAD 'auto_explain';
	SET auto_explain.log_min_duration = 0;
	SET auto_explain.log_nested_statements = on;
	SELECT count(*) FROM recsys.split_holdout('ev');
	SELECT count(*) FROM recsys.split_kfold('ev', 5);
	SELECT count(*) FROM recsys.split_last('ev', 'ts');
	SELECT count(*) FROM recsys.train_auto('ev', model => 'a', protocol => 'last', time_col => 'ts',
										   families => '{popular}', budget => '1 minute');
});
my $log = substr(slurp_file($node->logfile), $offset);

# one record per log line that starts with the time (plans continue it)
my @plans = grep { /plan:/ } split /\n(?=\d{4}-\d\d-\d\d )/, $log;
my %markers = (
	'split_holdout' => qr/PARTITION BY u ORDER BY md5/,
	'split_kfold' => qr/OVER \(ORDER BY md5/,
	'split_last' => qr/ORDER BY t NULLS FIRST, i/,
	'the global time cut' => qr/percentile_disc\(0\.9\).*AS first/s,
);
for my $what (sort keys %markers) {
	my @found = grep { $_ =~ $markers{$what} } @plans;
	ok(scalar(@found) > 0, "$what: its statement's plan is logged");
	my @hashed = grep { /HashAggregate|MixedAggregate/ } @found;
	is(scalar(@hashed), 0, "$what: no hash aggregate in its plan")
		or diag($hashed[0]);
}

$node->stop;
done_testing();
