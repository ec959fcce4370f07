#!/usr/bin/env bash
# test/bench/splits.sh: recsys's split functions against the shared split files.
#
#   bash test/bench/splits.sh
#
# Loads ../shared/data/ml-latest-small/ratings.csv and the online-retail
# interactions, rebuilds cv5 (MovieLens), strat75 and last5 (both) with
# recsys.split_kfold / split_holdout / split_last at seed 42, and compares
# every train and test file row for row.  Prints one line per file and
# exits non-zero on any difference.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits

recsys_install_deps
recsys_build
recsys_start_cluster

recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE ml (user_id bigint, item_id bigint, rating real, ts bigint);
\copy ml FROM '$shared/data/ml-latest-small/ratings.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE retail (user_id bigint, item_id bigint, weight int, ts bigint);
\copy retail FROM PROGRAM 'gzip -dc $splits/online-retail/interactions.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE TABLE expected (user_id bigint, item_id bigint, r text, ts bigint);
SQL

# compare one shared file with the pairs a query selects
check() {
	local file=$1 query=$2
	local diff
	recsys_psql -c "TRUNCATE expected" -c "\\copy expected FROM PROGRAM 'gzip -dc $file' WITH (FORMAT csv, HEADER true)"
	diff=$(recsys_psql -At -c "
		WITH mine AS ($query)
		SELECT (SELECT count(*) FROM expected), (SELECT count(*) FROM mine),
			   (SELECT count(*) FROM (SELECT user_id, item_id FROM expected
									  EXCEPT SELECT user_id, item_id FROM mine) missing),
			   (SELECT count(*) FROM (SELECT user_id, item_id FROM mine
									  EXCEPT SELECT user_id, item_id FROM expected) extra)")
	IFS='|' read -r want got missing extra <<<"$diff"
	if [ "$want" = "$got" ] && [ "$missing" = 0 ] && [ "$extra" = 0 ]; then
		echo "ok   ${file#$splits/}: $got rows"
	else
		echo "DIFF ${file#$splits/}: expected $want rows, got $got, missing $missing, extra $extra"
		status=1
	fi
}

status=0
for fold in 1 2 3 4 5; do
	check "$splits/ml-latest-small/cv5/fold$fold/test.csv.gz" \
		"SELECT user_id, item_id FROM recsys.split_kfold('ml') WHERE fold = $fold"
	check "$splits/ml-latest-small/cv5/fold$fold/train.csv.gz" \
		"SELECT user_id, item_id FROM recsys.split_kfold('ml') WHERE fold <> $fold"
done
for data in ml:ml-latest-small retail:online-retail; do
	table=${data%%:*}
	dir=$splits/${data#*:}
	check "$dir/strat75/train.csv.gz" "SELECT user_id, item_id FROM recsys.split_holdout('$table') WHERE NOT is_test"
	check "$dir/strat75/test.csv.gz" "SELECT user_id, item_id FROM recsys.split_holdout('$table') WHERE is_test"
	check "$dir/last5/train.csv.gz" "SELECT user_id, item_id FROM recsys.split_last('$table', 'ts') WHERE NOT is_test"
	check "$dir/last5/test.csv.gz" "SELECT user_id, item_id FROM recsys.split_last('$table', 'ts') WHERE is_test"
	# validation splits: the same protocol applied to the train part
	recsys_psql -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS ${table}_strat_train, ${table}_last_train" \
		-c "CREATE TABLE ${table}_strat_train AS SELECT t.* FROM $table t JOIN recsys.split_holdout('$table') s USING (user_id, item_id) WHERE NOT s.is_test" \
		-c "CREATE TABLE ${table}_last_train AS SELECT t.* FROM $table t JOIN recsys.split_last('$table', 'ts') s USING (user_id, item_id) WHERE NOT s.is_test"
	check "$dir/strat75/valid/test.csv.gz" "SELECT user_id, item_id FROM recsys.split_holdout('${table}_strat_train') WHERE is_test"
	check "$dir/last5/valid/test.csv.gz" "SELECT user_id, item_id FROM recsys.split_last('${table}_last_train', 'ts') WHERE is_test"
done
exit $status
