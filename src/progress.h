/*-------------------------------------------------------------------------
 *
 * progress.h
 *		Progress of training and tune, for another session (the view
 *		recsys.progress) and for the caller (NOTICE lines).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_PROGRESS_H
#define RECSYS_PROGRESS_H

#include "postgres.h"

/* What a training run is doing (recsys.progress.phase). */
typedef enum RsProgressPhase
{
	RS_PHASE_NONE = 0,
	RS_PHASE_READING,			/* reading the source */
	RS_PHASE_FITTING,			/* the fit: its iterations if it has any */
	RS_PHASE_WRITING,			/* storing the new version */
	RS_PHASE_EVALUATING,		/* tune: scoring a candidate */
	RS_PHASE_INDEXING			/* rebuilding the IVF index the old version had */
} RsProgressPhase;

/* recsys.progress: NOTICE lines for every training run of the session */
extern bool recsys_progress;

extern void RsProgressInit(void);
extern void RsProgressStart(const char *function, const char *model, const char *algorithm,
							bool verbose);
extern void RsProgressPhaseBegin(RsProgressPhase phase);
extern bool RsProgressWantsLoss(void);
extern void RsProgressIteration(int iteration, int iterations, const char *loss_name,
								double loss, const char *note);
extern void RsProgressWork(int64 done, int64 total);
extern void RsProgressEnd(void);

#endif							/* RECSYS_PROGRESS_H */
