# Neighbour lists by the bulk write path (0.10.0: item_neighbor_lists and
# user_neighbor_lists by heap multi-insert like factor rows, their CHECK
# constraints evaluated on every row, src/model_store.c): the server log
# says which path wrote each table (DEBUG1); bulk lists equal the lists
# the INSERT path writes for the same fit (known by construction: one
# fit, two ways of storing it), long lists included (300 neighbours,
# stored out of line in TOAST); they survive a crash of the primary
# (immediate stop, replay) and reach a streaming standby identical; a
# DBA's CHECK constraint that a later row breaks fails the training with
# the constraint's own error and leaves the previous version serving; a
# DBA's trigger sends the table back to INSERTs, which fire it.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RecsysTAP;

my ($primary, $standby) = primary_and_standby(q{
	SELECT setseed(0.42);
	CREATE TABLE events AS
		SELECT u AS user_id, floor(random() * 600)::int AS item_id
		FROM generate_series(1, 3000) u, generate_series(1, 12) j;
});

# A model's stored lists as one digest (its name and version left out).
sub digest
{
	my ($node, $model) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) || ' ' || md5(string_agg(t, E'\\n' ORDER BY t)) FROM (
			SELECT 'i ' || item_id || ' ' || neighbor_ids::text || ' ' || scores::text AS t
			FROM recsys.item_neighbor_lists WHERE model = '$model'
			UNION ALL SELECT 'u ' || user_id || ' ' || neighbor_ids::text || ' ' || scores::text
			FROM recsys.user_neighbor_lists WHERE model = '$model') rows});
}

# Train (one statement per call) and return what the DEBUG1 lines say of
# the lists' writes: "TABLE in bulk|by INSERT", one per table.
sub train
{
	my ($node, $bulk, $call) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', qq{
		SET client_min_messages = debug1;
		SET recsys.bulk_write = $bulk;
		SELECT 1 FROM $call;
	});
	my @paths = $err =~ /recsys: wrote \d+ rows of (\w+_neighbor_lists (?:in bulk|by INSERT))/g;
	return ($ret, join(', ', @paths), $err);
}

my $item_knn = "recsys.train_item_knn('events', 300, model => 'MODEL')";
my $user_knn = "recsys.train_user_knn('events', 40, model => 'MODEL')";
my ($ret, $paths);
($ret, $paths) = train($primary, 'on', $item_knn =~ s/MODEL/bulk_items/r);
is($paths, 'item_neighbor_lists in bulk', 'item lists written in bulk');
($ret, $paths) = train($primary, 'off', $item_knn =~ s/MODEL/spi_items/r);
is($paths, 'item_neighbor_lists by INSERT', 'and by INSERT with bulk_write off');
($ret, $paths) = train($primary, 'on', $user_knn =~ s/MODEL/bulk_users/r);
is($paths, 'user_neighbor_lists in bulk', 'user lists written in bulk');
train($primary, 'off', $user_knn =~ s/MODEL/spi_users/r);

my $items = digest($primary, 'bulk_items');
like($items, qr/^600 /, 'a list for each of the 600 items');
is($items, digest($primary, 'spi_items'), 'bulk item lists equal the INSERT path\'s');
is(digest($primary, 'bulk_users'), digest($primary, 'spi_users'), 'bulk user lists equal the INSERT path\'s');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE cardinality(neighbor_ids) = 300) > 0
	   AND (SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class
			WHERE oid = 'recsys.item_neighbor_lists'::regclass)
	FROM recsys.item_neighbor_lists WHERE model = 'bulk_items'}),
	't', 'lists of 300 neighbours, stored out of line (TOAST)');
my $similar = $primary->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.similar_items(7, 10, 'bulk_items')");

# a DBA's CHECK that the first row passes (by INSERT) and a later one
# (in bulk) breaks: the training fails with that constraint's error
$primary->safe_psql('postgres',
	'ALTER TABLE recsys.item_neighbor_lists ADD CONSTRAINT no_item_450 CHECK (item_id <> 450) NOT VALID');
my $err;
($ret, $paths, $err) = train($primary, 'on', $item_knn =~ s/MODEL/bulk_items/r);
like($err, qr/new row for relation "item_neighbor_lists" violates check constraint "no_item_450"/,
	'a DBA\'s CHECK is checked on the rows written in bulk');
is($primary->safe_psql('postgres', "SELECT version FROM recsys.models WHERE name = 'bulk_items'"),
	'1', 'and the previous version still serves');
$primary->safe_psql('postgres', 'ALTER TABLE recsys.item_neighbor_lists DROP CONSTRAINT no_item_450');

# a DBA's trigger: INSERTs throughout, and it fires for every row
$primary->safe_psql('postgres', q{
	CREATE TABLE list_log (n bigint);
	INSERT INTO list_log VALUES (0);
	CREATE FUNCTION count_list() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN UPDATE public.list_log SET n = n + 1; RETURN NEW; END $$;
	CREATE TRIGGER count_list BEFORE INSERT ON recsys.item_neighbor_lists
		FOR EACH ROW EXECUTE FUNCTION count_list();
});
($ret, $paths) = train($primary, 'on', $item_knn =~ s/MODEL/logged_items/r);
is($paths, 'item_neighbor_lists by INSERT', 'a table with a DBA\'s trigger is written by INSERT');
is($primary->safe_psql('postgres', 'SELECT n FROM list_log'), '600', 'which fires it for every list');
$primary->safe_psql('postgres', 'DROP TRIGGER count_list ON recsys.item_neighbor_lists');

# a bulk write left uncommitted when the primary crashes
crash_during_bulk_write($primary, q{SELECT 1 FROM recsys.train_item_knn('events', 300, model => 'open')});

is(digest($primary, 'bulk_items'), $items, 'the bulk lists survive a crash (replayed) unchanged');
is($primary->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.similar_items(7, 10, 'bulk_items')"),
	$similar, 'and serve the same similar items');
is($primary->safe_psql('postgres', "SELECT count(*) FROM recsys.item_neighbor_lists WHERE model = 'open'"),
	'0', 'an uncommitted bulk write is gone after the crash');

$primary->wait_for_catchup($standby);
is(digest($standby, 'bulk_items'), $items, 'the standby has the same lists');
is($standby->safe_psql('postgres',
	"SELECT string_agg(item_id || '=' || score, ',') FROM recsys.similar_items(7, 10, 'bulk_items')"),
	$similar, 'and serves the same similar items');

$standby->stop;
$primary->stop;
done_testing();
