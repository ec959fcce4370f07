# Right to erasure with a model trained with store_users => false: when a
# user's rows are deleted from the source and the delete commits, sessions
# that already have the model loaded (and the user folded in by an
# earlier statement) serve the user as an unknown user from their next
# statement, on the primary and on a streaming standby once the delete is
# replayed; a REPEATABLE READ transaction opened before the delete keeps
# its snapshot, as for any query.  No recsys table on the standby holds the
# user's id.
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
		SELECT 8000000 + u AS user_id, (u * 7 + j * 13) % 300 AS item_id
		FROM generate_series(1, 1000) u, generate_series(1, 15) j;
	CREATE INDEX ON events (user_id);
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 5, model => 'private',
								  store_users => false);
	-- a control that stores its users, for the catalog search below
	SELECT 1 FROM recsys.train_cf('events', factors => 8, iterations => 5, model => 'control');
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $user = 8000042;
my $unknown = 8999999;
my $list = sub {
	"SELECT string_agg(item_id || '=' || score, ',' ORDER BY score DESC, item_id) "
	  . "FROM recsys.recommend($_[0], 10, 'private')";
};
my $scores = sub {
	"SELECT string_agg(recsys.score($_[0], i, 'private')::text, ',' ORDER BY i) "
	  . "FROM generate_series(0, 299, 23) i";
};

# long-lived sessions: the model loaded, the user folded in before the delete
my $on_primary = $primary->background_psql('postgres', on_error_stop => 0);
my $on_standby = $standby->background_psql('postgres', on_error_stop => 0);
my $snapshot = $primary->background_psql('postgres', on_error_stop => 0);
my $before = $on_primary->query_safe($list->($user));
my $unknown_list = $on_primary->query_safe($list->($unknown));
my $unknown_scores = $on_primary->query_safe($scores->($unknown));
isnt($before, $unknown_list, 'before the delete the user gets a personal list');
is($on_standby->query_safe($list->($user)), $before, 'the standby serves the same list');
$snapshot->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($snapshot->query_safe($list->($user)), $before, 'a repeatable-read transaction sees the user');

# the erasure: one DELETE on the source, committed by another session
$primary->safe_psql('postgres', "DELETE FROM events WHERE user_id = $user");
is($on_primary->query_safe($list->($user)), $unknown_list,
	'the next statement of a session with the model loaded serves the user as unknown');
is($on_primary->query_safe($scores->($user)), $unknown_scores, 'score too');
is($on_primary->query("SELECT count(*) FROM recsys.explain($user, 7, 10, 'private')"), '0',
	'explain finds nothing to explain');
like($on_primary->{stderr}, qr/NOTICE:  model "private" has nothing to explain item 7 by for user $user/,
	'and says so');
is($snapshot->query_safe($list->($user)), $before,
	'the repeatable-read transaction keeps its snapshot');
$snapshot->query_safe('COMMIT');
is($snapshot->query_safe($list->($user)), $unknown_list, 'and after it ends, the user is gone there too');

$primary->wait_for_catchup($standby);
is($on_standby->query_safe($list->($user)), $unknown_list,
	'the standby session serves the user as unknown once the delete is replayed');

# the recsys tables that name the user in a row of the model, on the standby
my $mentions = sub {
	my ($model) = @_;
	$on_standby->query_safe(qq{
	SELECT coalesce(string_agg(c.oid::regclass::text, ',' ORDER BY c.relname), 'none')
	FROM pg_class c
	WHERE c.relnamespace = 'recsys'::regnamespace AND c.relkind = 'r'
	  AND (xpath('/row/n/text()',
				 query_to_xml(format('SELECT count(*) AS n FROM %s t '
									 'WHERE coalesce(to_jsonb(t)->>''model'', to_jsonb(t)->>''name'') = %L '
									 'AND to_jsonb(t)::text ~ %L',
									 c.oid::regclass, '$model', '(^|[^0-9.])$user([^0-9]|\$)'),
							  false, true, '')))[1]::text::int > 0});
};
is($mentions->('control'), 'recsys.user_factors',
	'the search finds the user in a model that stores users (until it is retrained or dropped)');
is($mentions->('private'), 'none', 'no recsys table holds the user id for the store_users => false model');
is($on_standby->query_safe("SELECT count(*) FROM recsys.user_factors WHERE model = 'private'"), '0',
	'no user vectors at all');

$on_primary->quit;
$on_standby->quit;
$snapshot->quit;
$standby->stop;
$primary->stop;
done_testing();
