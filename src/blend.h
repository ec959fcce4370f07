/*-------------------------------------------------------------------------
 *
 * blend.h
 *		Blend models: weighted sums of other models' standardised scores
 *		(trained by src/blend.c, served by src/kind_blend.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLEND_H
#define RECSYS_BLEND_H

/* More members than this is a mistake, not a model. */
#define BLEND_MAX_MEMBERS 16

#endif							/* RECSYS_BLEND_H */
