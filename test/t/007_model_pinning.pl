# A model changed by another session while a long statement serves it:
#
# (a) one long statement serves models m (factors) and k (item-kNN)
#     through a source whose function serves them again in statements of
#     their own, with fresh snapshots, so every commit of the other session
#     is seen in the middle of the long statement; meanwhile another
#     session retrains, activates, rolls back, drops and retrains them in
#     a loop.  The long statement must finish with sane rows;
# (b) pgbench clients serve m and k (recommend, score per row of an outer
#     query) while a loop retrains, activates and rolls them back;
# (c) the server never restarted: same postmaster start time, no backend
#     terminated by a signal in the log.
#
# Everything runs as one non-superuser role, the models' trainer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX ();
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('pinning');
$node->init;
$node->start;
my $role = 'regress_recsys_pin_trainer';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION recsys;
	CREATE ROLE $role LOGIN;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO $role;
	GRANT CREATE ON SCHEMA public TO $role;
});
my $connstr = $node->connstr('postgres') . " user=$role";

# psql as the trainer
sub as_trainer
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

as_trainer(q{
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 300 AS item_id
		FROM generate_series(1, 1000) u, generate_series(1, 15) j;
	CREATE INDEX ON events (user_id);
	-- serves the models again, in statements of its own, when asked to
	CREATE FUNCTION peek() RETURNS boolean
	LANGUAGE plpgsql VOLATILE AS $$
	BEGIN
		IF current_setting('test.peek', true) = 'on' THEN
			-- not again from the statements below
			PERFORM set_config('test.peek', 'off', false);
			BEGIN
				PERFORM recsys.score(1, 1, 'm');
				PERFORM * FROM recsys.recommend(2, 3, 'k');
			EXCEPTION WHEN OTHERS THEN
				NULL;
			END;
			PERFORM set_config('test.peek', 'on', false);
		END IF;
		RETURN true;
	END $$;
	CREATE VIEW shop AS SELECT user_id, item_id FROM events WHERE peek();
	SELECT version FROM recsys.train_cf('shop', 8, model => 'm', iterations => 2);
	SELECT version FROM recsys.train_cf('shop', 8, model => 'm', iterations => 2, seed => 3);
	SELECT version FROM recsys.train_item_knn('shop', 20, model => 'k');
	SELECT version FROM recsys.train_item_knn('shop', 10, model => 'k');
});
my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# One round of changes to both models, each committed on its own.
my $round = 0;
sub change_models
{
	my ($with_drop) = @_;
	$round++;
	my @sql = (
		"SELECT 1 FROM recsys.train_cf('shop', 8, model => 'm', iterations => 2, seed => $round)",
		"SELECT 1 FROM recsys.rollback('m')",
		"SELECT 1 FROM recsys.activate('m', (SELECT max(version) FROM recsys.model_versions WHERE model = 'm'))",
		"SELECT 1 FROM recsys.train_item_knn('shop', 5 + $round % 10, model => 'k')",
		"SELECT 1 FROM recsys.rollback('k')");
	push @sql, "SELECT recsys.drop_model('m')",
	  "SELECT 1 FROM recsys.train_cf('shop', 8, model => 'm', iterations => 2)",
	  "SELECT 1 FROM recsys.train_cf('shop', 8, model => 'm', iterations => 2, seed => 5)"
	  if $with_drop;
	# each -c is its own transaction
	my ($out, $err);
	IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, map { ('-c', $_) } @sql ],
		'>', \$out, '2>', \$err)
	  or die "changing the models failed: $err";
}

#
# (a) one long statement, the models changing under it
#
my $long = q{
SET test.peek = 'on';
SELECT count(*) || ' rows, ' || count(DISTINCT u) || ' users, ' ||
	   CASE WHEN bool_and(r.item_id BETWEEN 0 AND 299 AND r.score IS NOT NULL) THEN 'sane' ELSE 'WRONG' END
FROM generate_series(1, 150) u,
	 LATERAL (SELECT * FROM recsys.recommend(u, 5, 'm')
			  UNION ALL SELECT * FROM recsys.recommend(u, 5, 'k')) r
WHERE recsys.score(u, r.item_id, 'm') > -1e30 OR r.score IS NOT NULL;
};
my ($out, $err) = ('', '');
my $t0 = time;
my $h = IPC::Run::start([ 'psql', '-X', '-At', '-q', '-d', $connstr, '-c', $long ],
	'>', \$out, '2>', \$err);
my $rounds = 0;
while ($h->pumpable && time - $t0 < 25)
{
	change_models($rounds % 3 == 2);
	$rounds++;
	$h->pump_nb;
}
$h->finish;
note sprintf('(a) %d rounds of changes during a %.1f s statement', $rounds, time - $t0);
is($err, '', '(a) the long statement had no error');
like($out, qr/^1500 rows, 150 users, sane$/m, '(a) and returned 10 sane rows per user');
cmp_ok($rounds, '>=', 2, '(a) the models changed under it several times');

#
# (b) pgbench clients serving while a loop changes the models
#
my $pid = fork();
die "fork failed: $!" unless defined $pid;
if ($pid == 0)
{
	my $stop = time + 8;
	eval { change_models(0) while time < $stop; };
	print STDERR $@ if $@;
	POSIX::_exit($@ ? 1 : 0);
}
$node->pgbench(
	"--no-vacuum --client=4 --jobs=2 --time=10 --user=$role",
	0,
	[
		qr{number of transactions actually processed: [1-9]\d*},
		qr{number of failed transactions: 0 \(0\.000%\)}
	],
	[qr{^$}],
	'(b) pgbench clients serve the models while they change, without failures',
	{
		'007_serve' => q{
\set u random(1, 1000)
SET test.peek = 'on';
SELECT count(*) FROM recsys.recommend(:u, 10, 'm');
SELECT count(*) FROM recsys.recommend(:u, 10, 'k');
SELECT count(recsys.score(:u, i, 'k')) FROM generate_series(0, 299, 7) i;
SELECT count(recsys.score(u, 7, 'm')) FROM generate_series(:u, :u + 50) u;
}
	});
waitpid($pid, 0);
is($?, 0, '(b) the loop changing the models ran without errors');
is(as_trainer(q{SELECT count(*) FROM recsys.recommend(3, 10, 'm')}), '10', '(b) m serves afterwards');

#
# (c) no crash anywhere
#
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
	'(c) the postmaster never restarted');
unlike(slurp_file($node->logfile), qr/terminated by signal/, '(c) no backend was terminated by a signal');

$node->stop;
done_testing();
