# recsys: recommendations and search inside PostgreSQL (PGXS build)

EXTENSION = recsys
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")
PGFILEDESC = "recsys - recommender models trained and served in SQL"

MODULE_big = recsys
KERNEL_OBJS = src/kernel/als.o src/kernel/bpr.o src/kernel/cold.o src/kernel/cold_mix.o src/kernel/dp.o src/kernel/ease.o src/kernel/factor_scores.o src/kernel/fm.o src/kernel/foldin.o src/kernel/gibbs.o src/kernel/idmap.o src/kernel/ivf.o src/kernel/knn.o src/kernel/linalg.o src/kernel/mmr.o src/kernel/ncf.o src/kernel/neighbor_scores.o src/kernel/neighborhood.o src/kernel/score.o src/kernel/simd.o src/kernel/sparse.o src/kernel/stats.o src/kernel/threads.o
KIND_OBJS = src/kind_blend.o src/kind_cold.o src/kind_cold_terms.o src/kind_factors.o src/kind_fm.o src/kind_item_neighbors.o src/kind_ncf.o src/kind_neighborhood.o src/kind_popular.o src/kind_user_neighbors.o
OBJS = src/recsys.o src/args.o src/array_util.o src/auto_threshold.o src/blas_loader.o src/blend.o src/cancel.o src/diversity.o src/evaluate.o src/events.o src/experiment.o \
	src/fold_in.o src/history.o src/ingest.o src/item_cold.o src/item_features.o src/ivf_index.o src/model_acl.o src/model_cache.o src/model_kind.o src/model_load.o src/model_params.o \
	$(KIND_OBJS) src/heap_append.o src/model_store.o src/planner_support.o src/plot.o src/privacy.o src/profile.o src/progress.o src/recency.o src/recommend.o \
	src/search_catalog.o src/search_match.o src/search_sync.o src/shared_cache.o src/source_stats.o src/spi_util.o \
	src/train_bpr.o src/train_cf.o src/train_cold.o src/train_common.o src/train_ease.o src/train_fm.o src/train_knn.o src/train_ncf.o src/train_neighborhood.o src/train_popular.o src/tune_search.o $(KERNEL_OBJS)

# sql/recsys.sql is the one hand-edited install script, built into the
# current version's.  Released scripts are frozen, as pgvector keeps them:
# the base script of the first release (sql/recsys--0.1.0.sql) and one
# upgrade script per release (sql/recsys--A--B.sql), so every version
# updates to the current one and any older version installs as the base
# plus its deltas.
DATA = sql/$(EXTENSION)--0.1.0.sql $(wildcard sql/$(EXTENSION)--*--*.sql)
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DOCS = $(wildcard doc/*.md)

# Every other file in sql/ is a pg_regress test (outputs in expected/).
TESTS = $(filter-out sql/$(EXTENSION).sql sql/$(EXTENSION)--%,$(wildcard sql/*.sql))
REGRESS = $(patsubst sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --load-extension=$(EXTENSION)

PG_CPPFLAGS = -Isrc -Isrc/kernel -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
# The test suite (test/run.sh, so CI) builds with RECSYS_WERROR=1: a
# warning fails the build there.
ifeq ($(RECSYS_WERROR),1)
PG_CPPFLAGS += -Werror
endif
# OpenBLAS is loaded at run time by src/blas_loader.c, not linked.
SHLIB_LINK = -ldl -lpthread -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql
	cp $< $@

# PGXS tracks no header dependencies; rebuild everything when one changes.
$(OBJS): $(wildcard src/*.h src/kernel/*.h)

# C unit tests of the pure-C kernels: no server needed.  EASE's inversion
# is built with small panels, so that the unit tests' matrices (1,112
# items) go through the panel code that only catalogs of 16,000 items
# and more reach in the server.
UNIT_SRCS = $(wildcard test/unit/*.c) $(wildcard src/kernel/*.c)
test/unit/run_unit_tests: $(UNIT_SRCS) $(wildcard test/unit/*.h src/kernel/*.h)
	$(CC) -O2 -g -Wall -Wextra -Wno-unused-parameter -Isrc/kernel -Itest/unit \
		-DEASE_PANEL_WORK='((int64_t) 1 << 16)' -o $@ $(UNIT_SRCS) -lopenblas -lpthread -lm

# The runner repeats the suite for every instruction-set build of the SIMD
# kernels this CPU can run (src/kernel/simd.h), noting those it cannot;
# RECSYS_ISA=baseline|avx2|avx512 runs one.
unitcheck: test/unit/run_unit_tests
	test/unit/run_unit_tests

# TAP tests under test/t, against the installed extension.
prove_installcheck:
	rm -rf $(CURDIR)/tmp_check
	cd $(srcdir) && TESTDIR='$(CURDIR)' PATH="$(bindir):$$PATH" PGPORT='6$(DEF_PGPORT)' \
		PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
		$(PROVE) $(PG_PROVE_FLAGS) -I test/perl $(PROVE_FLAGS) $(if $(PROVE_TESTS),$(PROVE_TESTS),test/t/*.pl)

EXTRA_CLEAN = test/unit/run_unit_tests

.PHONY: unitcheck prove_installcheck
