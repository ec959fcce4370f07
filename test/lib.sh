# test/lib.sh: shared steps of test/run.sh, test/demo.sh and the benchmarks.
#
# Source it from bash.  It installs the Debian packages recsys needs (when
# run as root), builds and installs the extension, and runs a throwaway
# PostgreSQL cluster as an unprivileged OS user, on a free port, in a
# scratch directory, stopped again when the calling script exits.

RECSYS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# RECSYS_PG_BIN points at another (relocated) PostgreSQL 15, so that several
# work trees can build and test side by side without sharing one install.
PG_BIN=${RECSYS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config
RECSYS_PACKAGES="postgresql-15 postgresql-server-dev-15 libopenblas-dev postgresql-15-cron libipc-run-perl make gcc libc6-dev librsvg2-bin libxml2-utils"

log() { printf '== %s\n' "$*" >&2; }

# Install the Debian packages that are missing (root only; others must
# have them already).
recsys_install_deps() {
	local missing=()
	for p in $RECSYS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages: ${missing[*]} (run as root to install them)"
		return 1
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build and install the extension into the PostgreSQL 15 installation.
recsys_build() {
	log "building recsys"
	make -s -C "$RECSYS_ROOT" PG_CONFIG="$PG_CONFIG" RECSYS_WERROR="${RECSYS_WERROR:-0}" >/dev/null
	if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
		make -s -C "$RECSYS_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null
	else
		sudo make -s -C "$RECSYS_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null
	fi
}

# The OS user the server runs as: postgres when we are root, else ourselves.
recsys_pg_user() {
	if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Run a command as the server's OS user.
as_pg_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A TCP port nobody listens on, starting from $1.
recsys_free_port() {
	local port=${1:-54320}
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	echo "$port"
}

# Start a scratch cluster; sets PGHOST, PGPORT, PGUSER, PGDATABASE and
# RECSYS_SCRATCH, and stops the cluster when the shell exits.  Extra
# arguments are passed to postgres as -c settings (name=value).
recsys_start_cluster() {
	RECSYS_SCRATCH=$(mktemp -d /tmp/recsys-test.XXXXXX)
	chmod 755 "$RECSYS_SCRATCH"
	local pguser
	pguser=$(recsys_pg_user)
	[ "$(id -u)" -eq 0 ] && chown "$pguser" "$RECSYS_SCRATCH"
	PGPORT=$(recsys_free_port $((54320 + RANDOM % 1000)))
	log "starting a scratch cluster in $RECSYS_SCRATCH on port $PGPORT as $pguser"
	as_pg_user "$PG_BIN/initdb" -D "$RECSYS_SCRATCH/data" -A trust -U postgres \
		--no-sync -E UTF8 --locale=C >/dev/null
	{
		echo "port = $PGPORT"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$RECSYS_SCRATCH'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "shared_buffers = 256MB"
		echo "max_wal_size = 4GB"
		local setting
		for setting in "$@"; do echo "$setting"; done
	} | as_pg_user tee -a "$RECSYS_SCRATCH/data/postgresql.conf" >/dev/null
	trap recsys_stop_cluster EXIT
	as_pg_user "$PG_BIN/pg_ctl" -D "$RECSYS_SCRATCH/data" -l "$RECSYS_SCRATCH/server.log" \
		-w -t 60 start >/dev/null
	export PGHOST=$RECSYS_SCRATCH PGPORT PGUSER=postgres PGDATABASE=postgres
}

# Stop the scratch cluster and remove its directory (kept on failure when
# RECSYS_KEEP_SCRATCH=1, for a look at server.log).
recsys_stop_cluster() {
	local status=$?
	[ -n "${RECSYS_SCRATCH:-}" ] && [ -d "$RECSYS_SCRATCH/data" ] || return $status
	as_pg_user "$PG_BIN/pg_ctl" -D "$RECSYS_SCRATCH/data" -m fast -w stop >/dev/null 2>&1 || true
	if [ "${RECSYS_KEEP_SCRATCH:-0}" = 1 ]; then
		log "scratch directory kept: $RECSYS_SCRATCH"
	else
		rm -rf "$RECSYS_SCRATCH"
	fi
	RECSYS_SCRATCH=
	return $status
}

# psql against the scratch cluster, stopping at the first error.
recsys_psql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# The machine a benchmark runs on and its load average (on a shared
# machine the figures mean little without them).
recsys_bench_machine() {
	echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
		"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Load a synthetic set written by ../shared/bench/synth.py (gzip CSV $1)
# into table synth (user_id, item_id, weight) of the database psql
# connects to (further arguments are psql's), analysed.
recsys_load_synth() {
	local csv=$1
	shift
	recsys_psql "$@" <<SQL
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
SQL
}

# The machine, the date and the commit, the first lines of a benchmark's output.
recsys_bench_header() {
	recsys_bench_machine
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$RECSYS_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}
