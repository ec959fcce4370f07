#!/usr/bin/env bash
# test/tools/include_graph.sh: print the include graph of src/ (src/kernel
# excluded: the pure-C kernels include only each other) and fail on a cycle.
#
#   bash test/tools/include_graph.sh [srcdir]
#
# Nodes are modules: x.c and x.h together are module x, so "x.c includes
# y.h and y.c includes x.h" is the cycle it is (x and y use each other),
# though no file includes itself.  Prints one "module -> dependencies" line
# per module, then "no cycle" and exits 0, or the cycle found and exits 1.
# src/recsys.c is the library's entry point: its _PG_init calls every
# area's Init and so includes them all, by design, while recsys.h holds
# only the settings every area reads; recsys.c's own includes are left
# out (its header's are kept), or every area would form a cycle through it.
set -euo pipefail
src=${1:-$(dirname "$0")/../../src}

awk '
	FNR == 1 {
		file = FILENAME; sub(".*/", "", file)
		mod = file; sub(/\.[ch]$/, "", mod)
		mods[mod] = 1
	}
	/^#include "/ && file != "recsys.c" {
		dep = $2; gsub(/"/, "", dep)
		if (dep !~ /\.h$/) next
		sub(/\.h$/, "", dep)
		if (dep != mod) edge[mod, dep] = 1
	}
	END {
		# keep only edges to modules of src/ (kernel headers and PostgreSQL ones are leaves)
		for (k in edge) {
			split(k, p, SUBSEP)
			if (p[2] in mods) { deps[p[1]] = deps[p[1]] " " p[2]; n[p[1]]++ }
		}
		count = 0
		for (m in mods) order[++count] = m
		# sort module names (insertion sort: a few dozen)
		for (i = 2; i <= count; i++) {
			v = order[i]; j = i - 1
			while (j > 0 && order[j] > v) { order[j + 1] = order[j]; j-- }
			order[j + 1] = v
		}
		for (i = 1; i <= count; i++) {
			m = order[i]
			ndeps = split(deps[m], d, " ")
			# sorted dependency list
			for (a = 2; a <= ndeps; a++) {
				v = d[a]; b = a - 1
				while (b > 0 && d[b] > v) { d[b + 1] = d[b]; b-- }
				d[b + 1] = v
			}
			line = ""
			for (a = 1; a <= ndeps; a++) { line = line (a > 1 ? " " : "") d[a]; adj[m, a] = d[a] }
			nadj[m] = ndeps
			printf "%s -> %s\n", m, line
		}
		# depth-first search for a cycle: state 1 on the stack, 2 done
		for (i = 1; i <= count; i++) {
			root = order[i]
			if (state[root]) continue
			sp = 1; stack[1] = root; at[1] = 0; state[root] = 1
			while (sp > 0) {
				m = stack[sp]
				if (at[sp] < nadj[m]) {
					next_mod = adj[m, ++at[sp]]
					if (state[next_mod] == 1) {
						path = next_mod
						for (s = sp; s >= 1 && stack[s] != next_mod; s--) path = stack[s] " -> " path
						path = next_mod " -> " path
						print "cycle: " path
						exit 1
					}
					if (!state[next_mod]) {
						state[next_mod] = 1; stack[++sp] = next_mod; at[sp] = 0
					}
				} else {
					state[m] = 2; sp--
				}
			}
		}
		print "no cycle"
	}
' "$src"/*.c "$src"/*.h
