#!/bin/bash
# test/tools/build_citus.sh: build Citus from a source tree and install it
# into the PostgreSQL 15 that RECSYS_PG_BIN (or the system) points at.
#
# On demand only: CI never fetches Citus, and test/t/175_citus.pl skips
# when citus.so is not installed.  Usage:
#   RECSYS_PG_BIN=/path/to/pg15/bin bash test/tools/build_citus.sh SRC_DIR [BUILD_DIR]
# SRC_DIR is a Citus source tree that supports PostgreSQL 15 (13.x; tested
# with 13.2.2).  It is copied to BUILD_DIR (a new directory; default a
# fresh /tmp/citus-build.XXXXXX) and built there, outside this repository;
# the source tree is left untouched.
# Built without libcurl (Citus's anonymous statistics); needs the Debian
# packages libzstd-dev, liblz4-dev and libkrb5-dev (Debian's PostgreSQL is
# built with zstd, lz4 and GSSAPI, so its headers and Citus's columnar code
# include theirs); installed here when missing and run as root.
set -euo pipefail
src=${1:?usage: build_citus.sh SRC_DIR [BUILD_DIR]}
build=${2:-}
PG_BIN=${RECSYS_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BIN/pg_config

for p in libzstd-dev liblz4-dev libkrb5-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
	[ "$(id -u)" -eq 0 ] || { echo "build_citus.sh: install $p first" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
[ -f "$src/configure" ] || { echo "build_citus.sh: $src has no configure script" >&2; exit 1; }
# a new directory, never one that exists (nothing is deleted)
if [ -z "$build" ]; then
	build=$(mktemp -d /tmp/citus-build.XXXXXX)
else
	[ ! -e "$build" ] || { echo "build_citus.sh: $build exists; give a new directory" >&2; exit 1; }
	mkdir -p "$build"
fi
cp -a "$src/." "$build/"
cd "$build"

# PostgreSQL 15.20's headers declare have_createdb_privilege() (exported by
# the server since that minor release), while Citus 13.x defines its own
# static copy for PostgreSQL < 16: drop Citus's copy so the server's is used.
server_inc=$("$PG_CONFIG" --includedir-server)
if grep -q 'have_createdb_privilege' "$server_inc/commands/dbcommands.h" &&
	grep -q '^have_createdb_privilege(void)' src/include/pg_version_compat.h; then
	echo "build_citus.sh: using the server's have_createdb_privilege()" >&2
	perl -0pi -e 's/static inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n//s' \
		src/include/pg_version_compat.h
fi

./configure PG_CONFIG="$PG_CONFIG" --without-libcurl >configure.log
make -j"$(nproc)" -s >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }
if [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
	make -s install >install.log
else
	sudo make -s install >install.log
fi
echo "build_citus.sh: installed citus.so into $("$PG_CONFIG" --pkglibdir)" >&2
