# A model's cached copies (a backend's own and the shared one) are keyed by
# its catalog row's owner and xmin (RS_MODEL_FINGERPRINT_SQL): review s9,
# defects 2 and 3.
#  - A role that copies a dropped model's catalog row into its own model of
#    the same name (every column an owner may UPDATE: version, trained_at,
#    params, stats, counts) is not served the dropped model's shared copy:
#    its own tables are read.  Two non-superuser roles.
#  - A consistent hand edit of a model (an item's rows deleted and n_items
#    lowered, committed) is served at once by a new session (it was
#    XX001 "the shared copy has another item count" until eviction) and by
#    the owner's session that had the model loaded (it kept serving the
#    deleted item).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('row_identity');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recsys'");
$node->start;
my $alice = 'regress_recsys_fixr_alice';
my $bob = 'regress_recsys_fixr_bob';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION recsys;
	CREATE ROLE $alice LOGIN;
	CREATE ROLE $bob LOGIN;
	GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO $alice, $bob;
	-- alice's items are 1000-1049, bob's 1-50: 50 items each, 200 users each
	CREATE TABLE alice_events AS
		SELECT u AS user_id, 1000 + (u * 7 + j * 13) % 50 AS item_id
		FROM generate_series(1, 200) u, generate_series(1, 10) j;
	CREATE TABLE bob_events AS
		SELECT u AS user_id, 1 + (u * 7 + j * 13) % 50 AS item_id
		FROM generate_series(1, 200) u, generate_series(1, 10) j;
	GRANT CREATE ON SCHEMA public TO $bob;
	ALTER TABLE alice_events OWNER TO $alice;
	ALTER TABLE bob_events OWNER TO $bob;
});
my $as = sub {
	my ($role, $sql) = @_;
	return $node->safe_psql('postgres', "SET ROLE $role; $sql");
};
# a statement's output, or its error message
my $try = sub {
	my ($role, $sql) = @_;
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SET ROLE $role; $sql", stdout => \$out, stderr => \$err);
	$err =~ s/^psql:<stdin>:\d+: //mg;
	return $err eq '' ? $out : (split /\n/, $err)[0];
};
my $unit = "'{1,0,0,0,0,0,0,0}'::real[]";

# --- defect 2: bob forges alice's dropped row ---
$as->($alice, q{SELECT 1 FROM recsys.train_cf('alice_events', factors => 8, iterations => 3, model => 'secret')});
$as->($alice, "SELECT recsys.grant_model('secret', '$bob')");
# served once (by bob, who may): the shared copy is published
is($as->($bob, "SELECT count(*) FILTER (WHERE item_id >= 1000) FROM recsys.recommend_for_vector($unit, 10000, 'secret')"),
	'50', "bob, granted, is served alice's 50 items");
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'secret'"),
	'1', 'alice\'s model has a shared copy');
$as->($bob, q{CREATE TABLE saved AS SELECT version, trained_at, params, stats, n_items, n_users
	FROM recsys.models WHERE name = 'secret'});
$as->($alice, "SELECT recsys.revoke_model('secret', '$bob'); SELECT recsys.drop_model('secret')");
$as->($bob, q{SELECT 1 FROM recsys.train_cf('bob_events', factors => 8, iterations => 3, model => 'secret')});
$as->($bob, q{UPDATE recsys.models m SET version = s.version, trained_at = s.trained_at, params = s.params,
	stats = s.stats, n_items = s.n_items, n_users = s.n_users FROM saved s WHERE m.name = 'secret'});
is($as->($bob, "SELECT count(*) FILTER (WHERE item_id >= 1000) || ' ' || count(*) "
	  . "FROM recsys.recommend_for_vector($unit, 10000, 'secret')"),
	'0 50', "bob's forged row serves his own 50 items, none of alice's");
# and not alice's copy under another route either
is($try->($bob, "SELECT count(*) FROM recsys.similar_items(1001, 10, 'secret')"),
	'ERROR:  item 1001 is not in model "secret"',
	"alice's items are unknown to bob's model");
is($node->safe_psql('postgres', "SELECT count(*) FROM recsys.shared_cache_stats() WHERE model = 'secret'"),
	'1', 'only bob\'s copy is shown under the name');

# --- defect 3: a consistent hand edit, seen by every session at once ---
$as->($alice, q{SELECT 1 FROM recsys.train_cf('alice_events', factors => 8, iterations => 3, model => 'hand')});
my $owner_session = $node->background_psql('postgres');
$owner_session->query_safe("SET ROLE $alice");
my $top = $owner_session->query_safe("SELECT item_id FROM recsys.recommend(1, 1, 'hand')");
like($top, qr/^10\d\d$/, "user 1's top item before the edit ($top)");
# another session serves too: the shared copy exists before the edit
is($as->($alice, "SELECT count(*) FROM recsys.recommend(2, 5, 'hand')"), '5', 'served from the shared copy');
$as->($alice, qq{
	DELETE FROM recsys.item_factors WHERE model = 'hand' AND item_id = $top;
	DELETE FROM recsys.item_stats WHERE model = 'hand' AND item_id = $top;
	UPDATE recsys.models SET n_items = n_items - 1 WHERE name = 'hand'});
is($try->($alice, "SELECT count(*) FILTER (WHERE item_id = $top) || ' ' || count(*) "
	  . "FROM recsys.recommend_for_vector($unit, 100, 'hand')"), '0 49', 'a new session serves the edited model: 49 items, not the deleted one');
is($owner_session->query_safe("SELECT count(*) FILTER (WHERE item_id = $top) || ' ' || count(*) "
	  . "FROM recsys.recommend_for_vector($unit, 100, 'hand')"),
	'0 49', "the owner's session that had it loaded serves the edit too");
is($owner_session->query_safe("SELECT count(*) FILTER (WHERE item_id = $top) || ' ' || count(*) "
	  . "FROM recsys.recommend(1, 5, 'hand')"), '0 5', "nor recommended to user 1");
is($owner_session->query_safe("SELECT recsys.score(1, $top, 'hand') IS NULL"), 't',
	'the deleted item is no longer scored');
$owner_session->quit;

$node->safe_psql('postgres', qq{
	SELECT recsys.drop_model(name) FROM recsys.models;
	DROP TABLE alice_events, bob_events, saved;
	REVOKE CREATE ON SCHEMA public FROM $bob;
	DROP OWNED BY $alice, $bob;
	DROP ROLE $alice, $bob;
});
$node->stop;
done_testing();
