# test/bench/split_tables.sh: sourced by the benchmarks that read the
# shared split files (diversity.sh, bpr_refit.sh, cold_items.sh,
# ease_compact.sh, fm_pool.sh); needs recsys_psql.

# load_split table file: a split file as the table (user_id, item_id, r,
# ts), indexed by user
load_split() {
	local table=$1 file=$2
	recsys_psql -q <<SQL
CREATE TABLE $table (user_id bigint, item_id bigint, r real, ts bigint);
\copy $table FROM PROGRAM 'gzip -dc $file' WITH (FORMAT csv, HEADER true)
CREATE INDEX ON $table (user_id);
ANALYZE $table;
SQL
}
