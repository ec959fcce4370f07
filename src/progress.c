/*-------------------------------------------------------------------------
 *
 * progress.c
 *		Progress of training and tune: the view recsys.progress, read by any
 *		session, and NOTICE lines for the caller (recsys.progress = on, or a
 *		trainer's verbose => true).
 *
 * Where the state lives.  PostgreSQL gives every backend a slot in shared
 * memory for command progress (PgBackendStatus: a command type, a target
 * relation and PGSTAT_NUM_PROGRESS_PARAM int64 counters, written with the
 * st_changecount protocol so that readers never see half an update); the
 * pg_stat_progress_* views read it.  That array exists whether or not
 * recsys is in shared_preload_libraries, so progress works in every
 * session without a preload and without shared memory of our own.  recsys
 * advertises a command type of its own (RS_PROGRESS_COMMAND, beyond the
 * core's enum: no core view shows it), and packs its state into the
 * twenty counters (the SLOT_* below): phase, iteration, loss (the bits of
 * a float8), clock readings, tune's candidate, and the model and
 * algorithm names as bytes (63 and 15 at most; longer names are cut).
 * recsys_progress_rows() reads every backend's slot, as
 * pg_stat_get_progress_info() does, with the same visibility: a row's
 * details are shown to its own role, members of it and pg_read_all_stats.
 *
 * Nothing stale is left: the core clears a backend's progress when a
 * transaction or subtransaction aborts (an error, a cancel), and the local
 * mirror here is reset by transaction callbacks.  A backend has one
 * progress command at a time; recsys saves one that was running when a
 * training starts (a COPY whose query trains) and restores it after, and
 * republishes its own when a command inside a training (a COPY through
 * SPI) ended it.  It needs track_activities = on, like every progress
 * view.
 *
 * tune is a level above a trainer: it publishes its candidate (i of N)
 * and the trainer called for that candidate fills in its phase and
 * iterations; when the trainer ends, tune's row stays (phase evaluating).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/backend_progress.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "progress.h"

PG_FUNCTION_INFO_V1(recsys_progress_rows);
PG_FUNCTION_INFO_V1(recsys_progress_tune);

/* recsys's command type: outside the core's ProgressCommandType values */
#define RS_PROGRESS_COMMAND ((ProgressCommandType) 0x5253)

/* The counters (st_progress_param) recsys uses */
#define SLOT_FLAGS			0	/* RS_FLAG_* */
#define SLOT_PHASE			1	/* the trainer's RsProgressPhase */
#define SLOT_ITERATION		2	/* iterations done */
#define SLOT_ITERATIONS		3	/* of this many (0: the fit has none) */
#define SLOT_LOSS			4	/* float8 bits; NaN: not known */
#define SLOT_STARTED		5	/* TimestampTz: the outermost call */
#define SLOT_FIT_STARTED	6	/* TimestampTz: the fit's start */
#define SLOT_CANDIDATE		7	/* tune: candidate i ... */
#define SLOT_CANDIDATES		8	/* ... of N */
#define SLOT_CANDIDATE_STARTED 9	/* TimestampTz */
#define SLOT_ALGORITHM		10	/* 2 slots: 15 bytes and a NUL */
#define ALGORITHM_SLOTS		2
#define SLOT_MODEL			12	/* 8 slots: 63 bytes and a NUL */
#define MODEL_SLOTS			8

StaticAssertDecl(SLOT_MODEL + MODEL_SLOTS <= PGSTAT_NUM_PROGRESS_PARAM,
				 "recsys progress slots exceed PGSTAT_NUM_PROGRESS_PARAM");

#define RS_FLAG_TRAINING	1	/* a trainer runs */
#define RS_FLAG_TUNE		2	/* tune runs */
#define RS_FLAG_TUNE_BEST	4	/* tune retrains its best candidate */

#define ALGORITHM_BYTES (ALGORITHM_SLOTS * sizeof(int64))
#define MODEL_BYTES (MODEL_SLOTS * sizeof(int64))

bool		recsys_progress = false;

/* This backend's progress, mirrored into its PgBackendStatus */
static struct
{
	/* the trainer */
	bool		training;
	int			training_level; /* transaction nest level at its start */
	char		function[NAMEDATALEN];	/* train_bpr: the NOTICE lines' prefix */
	char		model[MODEL_BYTES];
	char		algorithm[ALGORITHM_BYTES];
	bool		notices;		/* NOTICE per iteration */
	RsProgressPhase phase;
	int			iteration;
	int			iterations;
	double		loss;
	TimestampTz started;
	TimestampTz fit_started;
	TimestampTz iteration_clock;	/* at the last iteration */
	/* tune, around its trainers */
	bool		tuning;
	bool		tune_best;
	int			tune_level;
	char		tune_model[MODEL_BYTES];
	char		tune_algorithm[ALGORITHM_BYTES];
	RsProgressPhase tune_phase;	/* between its trainers */
	int			candidate;
	int			candidates;
	TimestampTz tune_started;
	TimestampTz candidate_started;
	/* another command's progress, saved while ours runs */
	bool		saved;
	ProgressCommandType saved_command;
	Oid			saved_target;
	int64		saved_param[PGSTAT_NUM_PROGRESS_PARAM];
}			state;

/* Seconds from a to b. */
static double
seconds_between(TimestampTz a, TimestampTz b)
{
	return (double) (b - a) / USECS_PER_SEC;
}

/* Copy a name into a fixed buffer, cut at a character boundary. */
static void
copy_name(char *dst, Size size, const char *src)
{
	int			len = strlen(src);

	memset(dst, 0, size);
	if (len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
}

static int64
float_bits(double value)
{
	int64		bits;

	memcpy(&bits, &value, sizeof(bits));
	return bits;
}

static double
bits_float(int64 bits)
{
	double		value;

	memcpy(&value, &bits, sizeof(value));
	return value;
}

/* Is our command the one this backend advertises? */
static bool
ours_published(void)
{
	return MyBEEntry != NULL && MyBEEntry->st_progress_command == RS_PROGRESS_COMMAND;
}

/*
 * Write the local state into this backend's progress counters, starting
 * our command first if it is not the current one (saving another's).
 */
static void
publish(void)
{
	int			index[PGSTAT_NUM_PROGRESS_PARAM];
	int64		value[PGSTAT_NUM_PROGRESS_PARAM];
	const char *model = state.tuning ? state.tune_model : state.model;
	const char *algorithm = state.tuning ? state.tune_algorithm : state.algorithm;

	if (MyBEEntry == NULL)
		return;
	if (!ours_published())
	{
		if (!state.saved && MyBEEntry->st_progress_command != PROGRESS_COMMAND_INVALID)
		{
			state.saved = true;
			state.saved_command = MyBEEntry->st_progress_command;
			state.saved_target = MyBEEntry->st_progress_command_target;
			memcpy(state.saved_param, MyBEEntry->st_progress_param, sizeof(state.saved_param));
		}
		pgstat_progress_start_command(RS_PROGRESS_COMMAND, InvalidOid);
	}
	memset(value, 0, sizeof(value));
	for (int i = 0; i < PGSTAT_NUM_PROGRESS_PARAM; i++)
		index[i] = i;
	value[SLOT_FLAGS] = (state.training ? RS_FLAG_TRAINING : 0) |
		(state.tuning ? RS_FLAG_TUNE : 0) | (state.tune_best ? RS_FLAG_TUNE_BEST : 0);
	value[SLOT_PHASE] = state.training ? state.phase : (state.tuning ? state.tune_phase : 0);
	value[SLOT_ITERATION] = state.training ? state.iteration : 0;
	value[SLOT_ITERATIONS] = state.training ? state.iterations : 0;
	value[SLOT_LOSS] = float_bits(state.training ? state.loss : NAN);
	value[SLOT_STARTED] = state.tuning ? state.tune_started : state.started;
	value[SLOT_FIT_STARTED] = state.fit_started;
	value[SLOT_CANDIDATE] = state.tuning ? state.candidate : 0;
	value[SLOT_CANDIDATES] = state.tuning ? state.candidates : 0;
	value[SLOT_CANDIDATE_STARTED] = state.candidate_started;
	memcpy(&value[SLOT_ALGORITHM], algorithm, ALGORITHM_BYTES);
	memcpy(&value[SLOT_MODEL], model, MODEL_BYTES);
	pgstat_progress_update_multi_param(PGSTAT_NUM_PROGRESS_PARAM, index, value);
}

/* Stop advertising our command, giving back a saved one. */
static void
unpublish(void)
{
	if (ours_published())
		pgstat_progress_end_command();
	if (state.saved)
	{
		int			index[PGSTAT_NUM_PROGRESS_PARAM];

		for (int i = 0; i < PGSTAT_NUM_PROGRESS_PARAM; i++)
			index[i] = i;
		pgstat_progress_start_command(state.saved_command, state.saved_target);
		pgstat_progress_update_multi_param(PGSTAT_NUM_PROGRESS_PARAM, index, state.saved_param);
		state.saved = false;
	}
}

/*
 * At the end of a transaction nothing of ours runs any more (an abort has
 * cleared the counters already); a subtransaction's abort ends what began
 * inside it, and what is left is published again at its next step.
 */
static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (!state.training && !state.tuning)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT)
		unpublish();
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		memset(&state, 0, sizeof(state));
}

static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	if (state.training && state.training_level >= level)
		state.training = false;
	if (state.tuning && state.tune_level >= level)
		state.tuning = false;
	/* the core ended whatever command ran, a saved one included */
	state.saved = false;
}

/* RsProgressInit defines recsys.progress; from _PG_init. */
void
RsProgressInit(void)
{
	DefineCustomBoolVariable("recsys.progress",
							 "Reports the progress of recsys training and tune as NOTICE lines.",
							 "One line per phase and per iteration; another session sees the same "
							 "in the view recsys.progress whatever this is.",
							 &recsys_progress,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	RegisterXactCallback(progress_xact_callback, NULL);
	RegisterSubXactCallback(progress_subxact_callback, NULL);
}

static const char *
phase_name(RsProgressPhase phase)
{
	switch (phase)
	{
		case RS_PHASE_READING:
			return "reading source";
		case RS_PHASE_FITTING:
			return "fitting";
		case RS_PHASE_WRITING:
			return "writing model";
		case RS_PHASE_EVALUATING:
			return "evaluating";
		case RS_PHASE_INDEXING:
			return "indexing";
		case RS_PHASE_NONE:
			break;
	}
	return "starting";
}

/*
 * RsProgressStart begins a training run (function: the SQL name, for the
 * NOTICE lines; verbose: the trainer's argument, NOTICE per iteration).
 */
void
RsProgressStart(const char *function, const char *model, const char *algorithm, bool verbose)
{
	state.training = true;
	state.training_level = GetCurrentTransactionNestLevel();
	copy_name(state.function, sizeof(state.function), function);
	copy_name(state.model, sizeof(state.model), model);
	copy_name(state.algorithm, sizeof(state.algorithm), algorithm);
	state.notices = verbose || recsys_progress;
	state.phase = RS_PHASE_NONE;
	state.iteration = 0;
	state.iterations = 0;
	state.loss = NAN;
	state.started = GetCurrentTimestamp();
	state.fit_started = state.started;
	publish();
}

/* RsProgressPhaseBegin enters a phase of the training run. */
void
RsProgressPhaseBegin(RsProgressPhase phase)
{
	if (!state.training)
		return;
	state.phase = phase;
	if (phase == RS_PHASE_FITTING)
	{
		state.fit_started = GetCurrentTimestamp();
		state.iteration_clock = state.fit_started;
	}
	publish();
	if (recsys_progress)
		ereport(NOTICE,
				(errmsg("%s of model \"%s\": %s", state.function, state.model, phase_name(phase))));
}

/*
 * RsProgressWantsLoss says whether the caller will see each iteration's
 * loss, for trainers whose loss costs extra work.
 */
bool
RsProgressWantsLoss(void)
{
	return state.training && state.notices;
}


/*
 * RsProgressIteration records an iteration done (1-based) of iterations,
 * and its loss under loss_name (NULL or NaN: none); note is appended to
 * the NOTICE line (NULL: nothing).
 */
void
RsProgressIteration(int iteration, int iterations, const char *loss_name, double loss,
					const char *note)
{
	TimestampTz now = GetCurrentTimestamp();
	double		seconds = seconds_between(state.iteration_clock, now);

	if (!state.training)
		return;
	state.iteration = iteration;
	state.iterations = iterations;
	state.loss = loss;
	state.iteration_clock = now;
	publish();
	if (state.notices)
	{
		double		fitting = seconds_between(state.fit_started, now);
		double		left = fitting / iteration * (iterations - iteration);

		ereport(NOTICE,
				(errmsg("%s epoch %d of %d%s%s", state.function, iteration, iterations,
						loss_name != NULL && !isnan(loss) ? psprintf(": %s %.6f", loss_name, loss) : "",
						note != NULL ? note : ""),
				 errdetail("%.3f s in this epoch, about %.1f s left.", seconds, left)));
	}
}

/*
 * RsProgressWork records a fit without epochs advancing: done units of
 * total (kNN: rows whose neighbour lists are built), shown in the view as
 * iteration of iterations, without NOTICE lines (there are many steps).
 */
void
RsProgressWork(int64 done, int64 total)
{
	if (!state.training)
		return;
	state.iteration = (int) Min(done, PG_INT32_MAX);
	state.iterations = (int) Min(total, PG_INT32_MAX);
	publish();
}

/* RsProgressEnd ends the training run (tune's row stays). */
void
RsProgressEnd(void)
{
	if (!state.training)
		return;
	if (recsys_progress)
		ereport(NOTICE,
				(errmsg("%s of model \"%s\": done in %.3f s", state.function, state.model,
						seconds_between(state.started, GetCurrentTimestamp()))));
	state.training = false;
	state.tune_phase = RS_PHASE_EVALUATING;
	if (state.tuning)
		publish();
	else
		unpublish();
}

/*
 * recsys._progress_tune(model text, algorithm text, step text,
 *						 candidate int, candidates int)
 * is tune's report: step 'candidate' (training candidate i of N), 'best'
 * (retraining the best) or 'end'.  Internal.
 */
Datum
recsys_progress_tune(PG_FUNCTION_ARGS)
{
	char	   *step = text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (strcmp(step, "end") == 0)
	{
		if (state.tuning)
		{
			if (recsys_progress)
				ereport(NOTICE,
						(errmsg("tune of model \"%s\": done in %.3f s", state.tune_model,
								seconds_between(state.tune_started, GetCurrentTimestamp()))));
			state.tuning = false;
			unpublish();
		}
		PG_RETURN_VOID();
	}
	if (!state.tuning)
	{
		state.tuning = true;
		state.tune_level = GetCurrentTransactionNestLevel();
		state.tune_started = GetCurrentTimestamp();
		copy_name(state.tune_model, sizeof(state.tune_model), text_to_cstring(PG_GETARG_TEXT_PP(0)));
		copy_name(state.tune_algorithm, sizeof(state.tune_algorithm),
				  text_to_cstring(PG_GETARG_TEXT_PP(1)));
	}
	state.tune_best = strcmp(step, "best") == 0;
	state.tune_phase = RS_PHASE_NONE;
	state.candidate = PG_GETARG_INT32(3);
	state.candidates = PG_GETARG_INT32(4);
	state.candidate_started = GetCurrentTimestamp();
	publish();
	if (recsys_progress)
		ereport(NOTICE,
				(state.tune_best ?
				 errmsg("tune of model \"%s\": training the best of %d candidates",
						state.tune_model, state.candidates) :
				 errmsg("tune of model \"%s\": candidate %d of %d", state.tune_model,
						state.candidate, state.candidates)));
	PG_RETURN_VOID();
}

/* May the current user see the details of a backend of role? */
static bool
may_see(Oid role)
{
	return has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS) ||
		has_privs_of_role(GetUserId(), role);
}

/* A name packed into counters. */
static Datum
slots_text(const int64 *slots, Size bytes)
{
	char		name[MODEL_BYTES + 1];

	memcpy(name, slots, bytes);
	name[bytes] = '\0';
	return CStringGetTextDatum(name);
}

/*
 * The estimated seconds left: a trainer's from its iterations' pace (NULL
 * before the first, or without iterations); tune's from the candidates
 * done so far (each as long as the mean one, the best's retraining one
 * more), NULL during the first.
 */
static bool
seconds_left(const int64 *p, TimestampTz now, double *left)
{
	int			flags = p[SLOT_FLAGS];

	if (flags & RS_FLAG_TUNE)
	{
		int			candidate = p[SLOT_CANDIDATE];
		int			candidates = p[SLOT_CANDIDATES];
		double		before = seconds_between(p[SLOT_STARTED], p[SLOT_CANDIDATE_STARTED]);
		double		current = seconds_between(p[SLOT_CANDIDATE_STARTED], now);
		int			done = (flags & RS_FLAG_TUNE_BEST) ? candidates : candidate - 1;
		int			to_go = (flags & RS_FLAG_TUNE_BEST) ? 1 : candidates - done + 1;

		if (done < 1)
			return false;
		*left = Max(0, before / done * to_go - current);
		return true;
	}
	if (p[SLOT_PHASE] == RS_PHASE_FITTING && p[SLOT_ITERATION] > 0 && p[SLOT_ITERATIONS] > 0)
	{
		*left = seconds_between(p[SLOT_FIT_STARTED], now) / p[SLOT_ITERATION] *
			(p[SLOT_ITERATIONS] - p[SLOT_ITERATION]);
		return true;
	}
	return false;
}

/*
 * recsys._progress() returns a row per backend that trains or tunes:
 * (pid, datid, userid, command, model, algorithm, phase, iteration,
 * iterations, loss, candidate, candidates, started, elapsed, remaining),
 * the last two in seconds; the details only where may_see().
 */
Datum
recsys_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n = pgstat_fetch_stat_numbackends();
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be = local != NULL ? &local->backendStatus : NULL;
		Datum		values[15];
		bool		nulls[15];
		const int64 *p;
		int			flags;
		double		left;

		if (be == NULL || be->st_progress_command != RS_PROGRESS_COMMAND)
			continue;
		p = be->st_progress_param;
		flags = p[SLOT_FLAGS];
		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(be->st_procpid);
		values[1] = ObjectIdGetDatum(be->st_databaseid);
		values[2] = ObjectIdGetDatum(be->st_userid);
		values[3] = CStringGetTextDatum((flags & RS_FLAG_TUNE) ? "tune" : "train");
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = false;
		if (may_see(be->st_userid))
		{
			double		loss = bits_float(p[SLOT_LOSS]);

			values[4] = slots_text(&p[SLOT_MODEL], MODEL_BYTES);
			values[5] = slots_text(&p[SLOT_ALGORITHM], ALGORITHM_BYTES);
			values[6] = CStringGetTextDatum((flags & RS_FLAG_TUNE_BEST) ?
											psprintf("keeping the best: %s", phase_name(p[SLOT_PHASE])) :
											phase_name(p[SLOT_PHASE]));
			nulls[4] = nulls[5] = nulls[6] = false;
			if (p[SLOT_ITERATIONS] > 0)
			{
				values[7] = Int32GetDatum(p[SLOT_ITERATION]);
				values[8] = Int32GetDatum(p[SLOT_ITERATIONS]);
				nulls[7] = nulls[8] = false;
			}
			if (!isnan(loss))
			{
				values[9] = Float8GetDatum(loss);
				nulls[9] = false;
			}
			if (flags & RS_FLAG_TUNE)
			{
				values[10] = Int32GetDatum(p[SLOT_CANDIDATE]);
				values[11] = Int32GetDatum(p[SLOT_CANDIDATES]);
				nulls[10] = nulls[11] = false;
			}
			values[12] = TimestampTzGetDatum(p[SLOT_STARTED]);
			values[13] = Float8GetDatum(seconds_between(p[SLOT_STARTED], now));
			nulls[12] = nulls[13] = false;
			if (seconds_left(p, now, &left))
			{
				values[14] = Float8GetDatum(left);
				nulls[14] = false;
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
