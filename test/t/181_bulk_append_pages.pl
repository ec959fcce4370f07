# Bulk-written rows appended as whole pages (recsys.bulk_write_pages,
# src/heap_append.c): the pages are WAL-logged as page images and written
# at the table's end under the relation extension lock, beside other
# sessions' INSERTs into the same table.
#  1. the page path is taken: the training's WAL holds page images and no
#     heap multi-insert record (with the setting off: multi-inserts);
#  2. the rows equal, row for row, those the multi-insert path writes with
#     the same seed (known by construction), survive a crash of the primary
#     (immediate stop, replay) and reach a streaming standby identical;
#  3. another session's INSERTs into user_factors, committed one by one
#     while the pages are written, stay intact (every row, every value, in
#     the heap and the primary key: amcheck);
#  4. a training cancelled after its user_factors pages were written (it
#     waits for item_factors, which a third session locks) leaves the
#     previous version serving and the table consistent (amcheck), and the
#     next training writes the same rows again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "fsync = on\n");
$primary->start;
# 40,000 users x 64 factors: about 1,500 pages of user_factors, several
# groups of heap_append.c's 256 pages
$primary->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE EXTENSION amcheck;
	CREATE EXTENSION pg_walinspect;
	CREATE TABLE events AS
		SELECT u AS user_id, (u * 7 + j * 13) % 2000 AS item_id
		FROM generate_series(1, 40000) u, generate_series(1, 6) j;
	CREATE TABLE stop_inserts ();
});
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

my $train = q{SELECT 1 FROM recsys.train_cf('events', factors => 64, iterations => 1, model => '%s')};

# A model's active rows as one digest (its name left out).
sub digest
{
	my ($node, $model) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT md5(string_agg(t, E'\\n' ORDER BY t)) FROM (
			SELECT 'u ' || user_id || ' ' || f.bias || ' ' || f.factors::text AS t
			FROM recsys.user_factors f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
			WHERE f.model = '$model'
			UNION ALL SELECT 'i ' || item_id || ' ' || f.bias || ' ' || f.factors::text
			FROM recsys.item_factors f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
			WHERE f.model = '$model'
			UNION ALL SELECT 's ' || item_id || ' ' || f.n_users || ' ' || f.weight_sum || ' ' || f.popularity
			FROM recsys.item_stats f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
			WHERE f.model = '$model') rows});
}

# amcheck of the artefact tables: heap pages (verify_heapam's findings,
# '' when none) and primary keys with every heap row indexed
# (bt_index_check raises an error on a fault, which fails the test)
sub corruption
{
	my ($node) = @_;
	my $tables = q{('recsys.user_factors'::regclass, 'recsys.item_factors'::regclass, 'recsys.item_stats'::regclass)};
	$node->safe_psql('postgres', qq{
		SELECT bt_index_check(indexrelid, true) FROM pg_index WHERE indrelid IN $tables});
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(c.oid::regclass || ' ' || v.blkno || ' ' || v.msg, '; ')
		FROM pg_class c, verify_heapam(c.oid) v WHERE c.oid IN $tables});
}

# WAL records of a training: "heap multi-insert records|whether page
# images (XLOG/FPI, which only log_newpage writes) hold at least the
# bytes of the 40,000 users' factors"
sub trained_wal
{
	my ($model, $pages) = @_;
	return $primary->safe_psql('postgres', qq{
		SET recsys.bulk_write_pages = $pages;
		SELECT pg_current_wal_insert_lsn() AS before \\gset
		@{[sprintf($train, $model)]} \\g /dev/null
		SELECT coalesce(sum(count) FILTER (WHERE "resource_manager/record_type" = 'Heap2/MULTI_INSERT'), 0)
			|| '|' || (coalesce(sum(fpi_size) FILTER (WHERE "resource_manager/record_type" = 'XLOG/FPI'), 0)
				>= 40000 * 64 * 4)
		FROM pg_get_wal_stats(:'before', pg_current_wal_flush_lsn(), true)});
}

# 1. and 2.
is(trained_wal('multi', 'off') =~ /^[1-9][0-9]*\|/ ? 'multi' : 'none', 'multi',
	'with bulk_write_pages off, heap multi-insert records');
is(trained_wal('pages', 'on'), '0|true', 'with it on, page images holding the factors and no multi-insert');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM recsys.user_factors WHERE model = 'pages'}), '40000', 'every user row');
my $reference = digest($primary, 'multi');
is(digest($primary, 'pages'), $reference, 'the pages hold the rows the multi-insert path writes');
is(corruption($primary), '', 'amcheck: heap and primary keys consistent');
$primary->stop('immediate');
$primary->start;
is(digest($primary, 'pages'), $reference, 'the rows survive a crash (page images replayed)');
is(corruption($primary), '', 'amcheck after the crash');
$primary->wait_for_catchup($standby);
is(digest($standby, 'pages'), $reference, 'the standby has the same rows');

# start a psql session running sql in the background
my $sessions = 0;
sub start_session
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $file = $primary->basedir . '/session_' . ++$sessions . '.sql';
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	print $fh $sql;
	close($fh);
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-f', $file ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

sub poll
{
	my ($query) = @_;
	my $deadline = time + 60;
	while (time < $deadline)
	{
		my $got = $primary->safe_psql('postgres', $query);
		return $got if $got ne '';
		sleep 0.05;
	}
	return '';
}

# 3. another session inserts rows into user_factors (model 'multi',
# its version, users from 1,000,000,001 up, factors all equal to the
# number), one transaction each, until told to stop
my ($ins_h, $ins_out, $ins_err) = start_session(q{
	SET synchronous_commit = off;
	DO $$
	DECLARE
		v int := (SELECT version FROM recsys.models WHERE name = 'multi');
	BEGIN
		FOR i IN 1 .. 1000000 LOOP
			EXIT WHEN EXISTS (SELECT FROM stop_inserts);
			INSERT INTO recsys.user_factors (model, version, user_id, bias, factors)
			VALUES ('multi', v, 1000000000 + i, i, array_fill(i::real, ARRAY[64]));
			COMMIT;
		END LOOP;
	END $$;
});
poll(q{SELECT 1 FROM recsys.user_factors WHERE user_id > 1000000000 LIMIT 1});
$primary->safe_psql('postgres', sprintf($train, 'during'));
$primary->safe_psql('postgres', 'INSERT INTO stop_inserts DEFAULT VALUES');
$ins_h->finish;
is($$ins_err, '', 'the inserting session had no error');
is(digest($primary, 'during'), $reference, 'the rows written beside the inserts');
is($primary->safe_psql('postgres', q{
	SELECT count(*) = max(user_id) - 1000000000 AND count(*) > 0
		AND bool_and(bias = user_id - 1000000000 AND factors = array_fill(bias, ARRAY[64]))
	FROM recsys.user_factors WHERE user_id > 1000000000}), 't',
	'every row the other session inserted is there, intact');
is($primary->safe_psql('postgres', q{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM recsys.user_factors WHERE model = 'multi' AND user_id > 1000000000}),
	$primary->safe_psql('postgres', q{SELECT count(*) FROM recsys.user_factors WHERE user_id > 1000000000}),
	'and found through the primary key');
# the other session extended the table between this training's groups of
# pages (it inserts thousands of rows a second, the write takes longer
# than one page of them)
is($primary->safe_psql('postgres', q{
	WITH d AS (SELECT min((ctid::text::point)[0]) lo, max((ctid::text::point)[0]) hi
		FROM recsys.user_factors WHERE model = 'during')
	SELECT count(*) > 0 FROM recsys.user_factors, d
	WHERE user_id > 1000000000 AND (ctid::text::point)[0] BETWEEN lo AND hi}), 't',
	'the other session\'s rows lie between the pages of the training\'s rows');
is(corruption($primary), '', 'amcheck after the concurrent writes');

# 4. cancel after user_factors' pages are written
my $version = $primary->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'pages'});
my ($lock_h, $lock_out, $lock_err) = start_session(q{
	BEGIN;
	LOCK TABLE recsys.item_factors IN SHARE MODE;
	SELECT pg_sleep(120);
	ROLLBACK;
});
poll(q{SELECT 1 FROM pg_locks WHERE relation = 'recsys.item_factors'::regclass AND mode = 'ShareLock'
	AND granted});
my ($h, $out, $err) = start_session(sprintf($train, 'pages'));
my $waiting = poll(q{
	SELECT l.pid FROM pg_locks l WHERE l.relation = 'recsys.item_factors'::regclass AND NOT l.granted});
ok($waiting, 'the training waits to write item_factors');
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM recsys.user_factors WHERE model = 'pages'}), '40000',
	'its user_factors pages are written but not visible');
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($waiting)");
$h->finish;
like($$err, qr/canceling statement due to user request/, 'the training was cancelled');
$primary->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_locks WHERE relation = 'recsys.item_factors'::regclass
	AND mode = 'ShareLock' AND granted});
$lock_h->finish;
is($primary->safe_psql('postgres', q{SELECT version FROM recsys.models WHERE name = 'pages'}), $version,
	'the previous version is still active');
is(digest($primary, 'pages'), $reference, 'with its rows');
is(corruption($primary), '', 'amcheck after the cancel');
$primary->safe_psql('postgres', 'VACUUM recsys.user_factors');
$primary->safe_psql('postgres', sprintf($train, 'pages'));
is(digest($primary, 'pages'), $reference, 'the next training writes the same rows');
is(corruption($primary), '', 'amcheck after VACUUM and the next training');
$primary->wait_for_catchup($standby);
is(digest($standby, 'during'), $reference, 'the standby has the rows written beside the inserts');
is($standby->safe_psql('postgres', q{
	SELECT count(*) FROM recsys.user_factors WHERE user_id > 1000000000}),
	$primary->safe_psql('postgres', q{SELECT count(*) FROM recsys.user_factors WHERE user_id > 1000000000}),
	'and the other session\'s rows');

$standby->stop;
$primary->stop;
done_testing();
