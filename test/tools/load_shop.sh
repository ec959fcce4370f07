#!/usr/bin/env bash
# load_shop.sh - (re)create and fill the demo shop schema "shop".
#
#   bash test/tools/load_shop.sh [EVENTS [SEED]]      (defaults 5000 42)
#
# SHOP_TASTES=1 also loads shop.tastes (users x products rows: for the
# experiments' simulator, test/tools/simulate.sql).
# Uses psql with the caller's PGHOST/PGPORT/PGUSER/PGDATABASE.  Builds
# shopgen into $SHOPGEN_BIN_DIR (default test/tools/.build/) when the binary
# is missing or older than shopgen.c, runs shop_schema.sql, loads the three
# tables with client-side \copy ... FROM PROGRAM, then indexes and analyzes.
set -euo pipefail

events="${1:-5000}"
seed="${2:-42}"
for value in "$events" "$seed"; do
    if [[ ! "$value" =~ ^[0-9]+$ ]]; then
        echo "usage: $0 [EVENTS [SEED]]  (non-negative integers)" >&2
        exit 2
    fi
done

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="${SHOPGEN_BIN_DIR:-$tools_dir/.build}"
bin="$bin_dir/shopgen"
src="$tools_dir/shopgen.c"

if [[ ! -x "$bin" || "$src" -nt "$bin" ]]; then
    mkdir -p "$bin_dir"
    # Build to a temporary name so a concurrent run never sees half a binary.
    "${CC:-cc}" -std=c99 -O2 -Wall -Wextra -o "$bin.tmp.$$" "$src" -lm
    chmod 755 "$bin.tmp.$$"
    mv -f "$bin.tmp.$$" "$bin"
fi

# The \copy PROGRAM string goes through psql's quoting ('' for ') and then
# through the shell (single-quote the path, ' becomes '\'').
shell_quoted_bin="'${bin//\'/\'\\\'\'}'"
psql_bin="${shell_quoted_bin//\'/\'\'}"

run_psql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

run_psql -f "$tools_dir/shop_schema.sql"
tables="products users events"
if [[ "${SHOP_TASTES:-0}" == 1 ]]; then
    tables="$tables tastes"
fi
for table in $tables; do
    run_psql -c "\\copy shop.$table FROM PROGRAM '$psql_bin --table $table --events $events --seed $seed'"
done
run_psql -c "CREATE INDEX events_user_id_idx ON shop.events (user_id)" \
         -c "ANALYZE shop.products" -c "ANALYZE shop.users" -c "ANALYZE shop.events" \
         -c "ANALYZE shop.tastes"
