/*-------------------------------------------------------------------------
 *
 * plot.c
 *		SVG pictures straight from SQL: a line chart (series with optional
 *		interval bands) and a heat map, each with axes, ticks, labels, a
 *		legend or colour bar, and a title.  recsys.plot_lines and
 *		recsys._plot_heatmap; the SQL functions plot_pr_curve,
 *		plot_metrics_at_k and plot_tune feed them.
 *
 * The document is SVG 1.1 text that rsvg-convert and the browsers render
 * alike: fixed pixel sizes, no scripts, no external references, a white
 * background.  Every piece of text that comes from the caller (titles,
 * axis labels, series and category names: model and metric names) is
 * escaped as XML character data (& < > " ' become entities, control
 * characters that XML 1.0 forbids become '?'), so a label cannot end an
 * element or open a new one.
 *
 * Ticks are "nice" numbers (1, 2 or 5 times a power of ten) covering the
 * data's range; a range of one value is widened by one unit around it.
 * Points whose x or y is NULL or not finite are left out; a band is drawn
 * from the points where both its bounds are finite.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "args.h"

PG_FUNCTION_INFO_V1(recsys_plot_lines);
PG_FUNCTION_INFO_V1(recsys_plot_heatmap);

#define PLOT_MIN_WIDTH 360		/* the plot area beside the legend */
#define PLOT_MIN_HEIGHT 200
#define PLOT_MAX_SIZE 4000
#define PLOT_MAX_SERIES 20
#define PLOT_MAX_CATEGORIES 100
#define PLOT_MAX_POINTS 1000000	/* beyond, the SVG text nears its 1 GB limit */
#define PLOT_CHECK_EVERY 4096	/* points between checks for interrupts */

/* Margins around the plot area, in pixels */
#define MARGIN_LEFT 80
#define MARGIN_TOP 40
#define MARGIN_BOTTOM 60
#define LEGEND_WIDTH 170
#define LEGEND_CHARS 22			/* characters of a legend entry shown */

/* Colour-blind-safe palette (Okabe and Ito), then greys */
static const char *const palette[] = {
	"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
	"#999999", "#666666"
};

/* A chart's plot area and its data ranges */
typedef struct Frame
{
	double		left,
				top,
				width,
				height;			/* the plot area in pixels */
	double		x_min,
				x_max,
				y_min,
				y_max;			/* the data range shown */
} Frame;

/* A column of the caller's: a C array of one of its arrays */
typedef struct Column
{
	int			n;
	Datum	   *values;
	bool	   *nulls;
} Column;

/* Appends text as XML character data. */
static void
append_escaped(StringInfo buf, const char *text)
{
	for (const unsigned char *p = (const unsigned char *) text; *p; p++)
	{
		switch (*p)
		{
			case '&':
				appendStringInfoString(buf, "&amp;");
				break;
			case '<':
				appendStringInfoString(buf, "&lt;");
				break;
			case '>':
				appendStringInfoString(buf, "&gt;");
				break;
			case '"':
				appendStringInfoString(buf, "&quot;");
				break;
			case '\'':
				appendStringInfoString(buf, "&#39;");
				break;
			default:
				if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
					appendStringInfoChar(buf, '?');
				else
					appendStringInfoChar(buf, (char) *p);
		}
	}
}

/* A text element: x, y, anchor, extra attributes, the escaped text. */
static void
append_text(StringInfo buf, double x, double y, const char *anchor, const char *attrs,
			const char *text)
{
	appendStringInfo(buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor,
					 attrs[0] ? " " : "", attrs);
	append_escaped(buf, text);
	appendStringInfoString(buf, "</text>\n");
}

/* The one-dimensional array argument argno (NULL allowed when optional). */
static bool
column_arg(FunctionCallInfo fcinfo, int argno, const char *argname, Oid elemtype, bool optional,
		   Column *col)
{
	ArrayType  *array;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	memset(col, 0, sizeof(*col));
	if (PG_ARGISNULL(argno))
	{
		if (optional)
			return false;
		RsRequireArg(fcinfo, argno, argname);
	}
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &col->values, &col->nulls,
					  &col->n);
	return true;
}

/* Refuse arrays of different lengths. */
static void
require_same_length(const Column *a, const char *a_name, const Column *b, const char *b_name)
{
	if (a->n != b->n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s and %s must have the same length, not %d and %d", a_name, b_name,
						a->n, b->n),
				 errhint("Pass one element per point, e.g. array_agg(...) of each column in one query.")));
}

static double
column_float(const Column *col, int i)
{
	return col->nulls[i] ? NAN : DatumGetFloat8(col->values[i]);
}

/* A nice step of about range / target: 1, 2 or 5 times a power of ten. */
static double
nice_step(double range, int target)
{
	double		raw = range / target;
	double		power = pow(10, floor(log10(raw)));
	double		fraction = raw / power;

	if (fraction <= 1)
		return power;
	if (fraction <= 2)
		return 2 * power;
	if (fraction <= 5)
		return 5 * power;
	return 10 * power;
}

/*
 * Refuse values whose span (hi - lo) a double cannot hold: the scales
 * divide by it (an infinite span made NaN positions and colours).  An
 * axis whose range is empty after widening (only the tiniest subnormal
 * values) is refused the same way.
 */
static void
require_span(double lo, double hi, const char *argname)
{
	if (!isfinite(hi - lo) || !isfinite(lo) || !isfinite(hi) || hi < lo)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the values of %s span more than double precision can hold", argname),
				 errhint("Scale the values (plot thousands, or a logarithm).")));
}

/*
 * The smallest span of unequal values an axis scales: its ticks, a tenth
 * of the span or so, stay normal doubles (below DBL_MIN they lose
 * precision, and below 4.9e-324 the step is 0 and the positions NaN).
 */
#define PLOT_MIN_SPAN 1e-300

/*
 * Refuse unequal values closer together than PLOT_MIN_SPAN (subnormal
 * spans): the argument, the span and the allowed range in the message.
 */
static void
require_scalable_span(double lo, double hi, const char *argname)
{
	if (hi > lo && hi - lo < PLOT_MIN_SPAN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the values of %s must all be equal or span at least %g, not %g",
						argname, PLOT_MIN_SPAN, hi - lo),
				 errhint("Scale the values (multiply them by a power of ten).")));
}

/* Widen [lo, hi] to tick boundaries; an empty range by one unit. */
static void
nice_range(double *lo, double *hi, int target)
{
	double		step;

	if (!(*hi > *lo))
	{
		double		mid = *lo;
		double		half = fabs(mid) * 0.5;

		/* 0, or so tiny a value that its half-range would not scale */
		if (!(half >= PLOT_MIN_SPAN / 2))
			half = 1;

		*lo = mid - half;
		*hi = mid + half;
	}
	step = nice_step(*hi - *lo, target);
	*lo = floor(*lo / step + 1e-9) * step;
	*hi = ceil(*hi / step - 1e-9) * step;
}

static double
to_px_x(const Frame *f, double x)
{
	return f->left + (x - f->x_min) / (f->x_max - f->x_min) * f->width;
}

static double
to_px_y(const Frame *f, double y)
{
	return f->top + f->height - (y - f->y_min) / (f->y_max - f->y_min) * f->height;
}

/* A tick label: the value with as many digits as its step needs. */
static char *
tick_label(double value, double step)
{
	int			decimals = step >= 1 ? 0 : (int) ceil(-log10(step) - 1e-9);

	if (fabs(value) < step * 1e-6)
		value = 0;
	if (fabs(value) >= 1e6 || (value != 0 && fabs(value) < 1e-4))
		return psprintf("%.3g", value);
	return psprintf("%.*f", decimals, value);
}

/* The document's start: size, background, title. */
static void
begin_document(StringInfo buf, int width, int height, const char *title)
{
	appendStringInfo(buf,
					 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
					 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n",
					 width, height, width, height);
	appendStringInfoString(buf, "<title>");
	append_escaped(buf, title);
	appendStringInfoString(buf, "</title>\n");
	appendStringInfo(buf, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
					 width, height);
	append_text(buf, width / 2.0, 24, "middle", "font-size=\"15\" font-weight=\"bold\"", title);
}

/*
 * The ticks of [lo, hi] by step, counted (adding step to a large value
 * could leave it unchanged), at most 50.
 */
static int
tick_count(double lo, double hi, double step)
{
	double		n = floor((hi - lo) / step + 1e-6) + 1;

	return isfinite(n) ? (int) Max(1, Min(n, 50)) : 1;
}

#define FOR_TICKS(v, lo, hi, step) \
	for (int t_ = 0, n_ = tick_count(lo, hi, step); t_ < n_ && ((v) = (lo) + t_ * (step), true); t_++)

/* Axes of a numeric frame: grid, ticks, tick labels, axis labels. */
static void
draw_axes(StringInfo buf, const Frame *f, const char *x_label, const char *y_label)
{
	double		x_step = nice_step(f->x_max - f->x_min, 6);
	double		y_step = nice_step(f->y_max - f->y_min, 6);
	double		x,
				y;

	appendStringInfoString(buf, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	FOR_TICKS(x, f->x_min, f->x_max, x_step)
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 to_px_x(f, x), f->top, to_px_x(f, x), f->top + f->height);
	FOR_TICKS(y, f->y_min, f->y_max, y_step)
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
						 f->left, to_px_y(f, y), f->left + f->width, to_px_y(f, y));
	appendStringInfoString(buf, "</g>\n");
	appendStringInfo(buf,
					 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
					 f->left, f->top, f->width, f->height);
	FOR_TICKS(x, f->x_min, f->x_max, x_step)
	{
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
						 to_px_x(f, x), f->top + f->height, to_px_x(f, x), f->top + f->height + 5);
		append_text(buf, to_px_x(f, x), f->top + f->height + 18, "middle", "", tick_label(x, x_step));
	}
	FOR_TICKS(y, f->y_min, f->y_max, y_step)
	{
		appendStringInfo(buf, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
						 f->left - 5, to_px_y(f, y), f->left, to_px_y(f, y));
		append_text(buf, f->left - 8, to_px_y(f, y) + 4, "end", "", tick_label(y, y_step));
	}
	append_text(buf, f->left + f->width / 2, f->top + f->height + 42, "middle", "", x_label);
	append_text(buf, 0, 0, "middle",
				psprintf("transform=\"translate(%.1f,%.1f) rotate(-90)\"", 20.0, f->top + f->height / 2),
				y_label);
}

/* The size arguments. */
static void
size_args(FunctionCallInfo fcinfo, int argno, int *width, int *height)
{
	*width = RsIntArg(fcinfo, argno, "width", PLOT_MIN_WIDTH, PLOT_MAX_SIZE);
	*height = RsIntArg(fcinfo, argno + 1, "height", PLOT_MIN_HEIGHT, PLOT_MAX_SIZE);
}

/* The index of name among names[0..*n), added if new (at most max). */
static int
category_index(char **names, int *n, int max, const char *name, const char *argname)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	if (*n >= max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has more than %d distinct values", argname, max),
				 errhint("A picture with more would not be readable: plot fewer.")));
	names[*n] = pstrdup(name);
	return (*n)++;
}

/* A legend entry: at most LEGEND_CHARS characters, then "...". */
static char *
legend_name(const char *name)
{
	int			len = strlen(name);

	if (pg_mbstrlen(name) <= LEGEND_CHARS)
		return pstrdup(name);
	len = pg_mbcharcliplen(name, len, LEGEND_CHARS - 3);
	return psprintf("%.*s...", len, name);
}

/*
 * recsys.plot_lines(series text[], x float8[], y float8[], lower float8[],
 *					 upper float8[], title text, x_label text, y_label text,
 *					 width int, height int)
 * returns an SVG line chart: one line per distinct series (in order of
 * first appearance) joining its points in the order given (a
 * precision-recall curve is not a function of x), a shaded band between
 * lower and upper where given.
 */
Datum
recsys_plot_lines(PG_FUNCTION_ARGS)
{
	Column		series,
				xs,
				ys,
				lower,
				upper;
	bool		has_band;
	char	   *title = RsTextArg(fcinfo, 5, "title");
	char	   *x_label = RsTextArg(fcinfo, 6, "x_label");
	char	   *y_label = RsTextArg(fcinfo, 7, "y_label");
	int			width,
				height;
	char	   *names[PLOT_MAX_SERIES];
	int			n_series = 0;
	int		   *of_series;
	double	   *x,
			   *y,
			   *lo,
			   *hi;
	bool		any = false;
	Frame		f;
	StringInfoData buf;

	size_args(fcinfo, 8, &width, &height);
	column_arg(fcinfo, 0, "series", TEXTOID, false, &series);
	column_arg(fcinfo, 1, "x", FLOAT8OID, false, &xs);
	column_arg(fcinfo, 2, "y", FLOAT8OID, false, &ys);
	require_same_length(&series, "series", &xs, "x");
	require_same_length(&series, "series", &ys, "y");
	has_band = column_arg(fcinfo, 3, "lower", FLOAT8OID, true, &lower);
	if (column_arg(fcinfo, 4, "upper", FLOAT8OID, true, &upper) != has_band)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lower and upper must both be given or both be NULL")));
	if (has_band)
	{
		require_same_length(&series, "series", &lower, "lower");
		require_same_length(&series, "series", &upper, "upper");
	}
	if (series.n > PLOT_MAX_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("plot_lines draws at most %d points, not %d", PLOT_MAX_POINTS, series.n),
				 errhint("A picture with more would not be readable: aggregate or sample the points first.")));

	of_series = palloc(sizeof(int) * (series.n + 1));
	x = palloc(sizeof(double) * (series.n + 1));
	y = palloc(sizeof(double) * (series.n + 1));
	lo = palloc(sizeof(double) * (series.n + 1));
	hi = palloc(sizeof(double) * (series.n + 1));
	f.x_min = f.y_min = INFINITY;
	f.x_max = f.y_max = -INFINITY;
	for (int i = 0; i < series.n; i++)
	{
		char	   *name;

		if (i % PLOT_CHECK_EVERY == 0)
			CHECK_FOR_INTERRUPTS();
		if (series.nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("series must not contain NULL (element %d is)", i + 1)));
		name = TextDatumGetCString(series.values[i]);
		of_series[i] = category_index(names, &n_series, PLOT_MAX_SERIES, name, "series");
		pfree(name);
		x[i] = column_float(&xs, i);
		y[i] = column_float(&ys, i);
		lo[i] = has_band ? column_float(&lower, i) : NAN;
		hi[i] = has_band ? column_float(&upper, i) : NAN;
		if (!isfinite(x[i]) || !isfinite(y[i]))
			continue;
		any = true;
		f.x_min = Min(f.x_min, x[i]);
		f.x_max = Max(f.x_max, x[i]);
		f.y_min = Min(f.y_min, y[i]);
		f.y_max = Max(f.y_max, y[i]);
		if (isfinite(lo[i]) && isfinite(hi[i]))
		{
			f.y_min = Min(f.y_min, Min(lo[i], hi[i]));
			f.y_max = Max(f.y_max, Max(lo[i], hi[i]));
		}
	}
	if (!any)
		f.x_min = f.y_min = 0, f.x_max = f.y_max = 1;
	require_span(f.x_min, f.x_max, "x");
	require_span(f.y_min, f.y_max, has_band ? "y (with lower and upper)" : "y");
	require_scalable_span(f.x_min, f.x_max, "x");
	require_scalable_span(f.y_min, f.y_max, has_band ? "y (with lower and upper)" : "y");
	/* widening to round ticks can overflow too (values near the largest double) */
	nice_range(&f.x_min, &f.x_max, 6);
	nice_range(&f.y_min, &f.y_max, 6);
	require_span(f.x_min, f.x_max, "x");
	require_span(f.y_min, f.y_max, has_band ? "y (with lower and upper)" : "y");
	f.left = MARGIN_LEFT;
	f.top = MARGIN_TOP;
	f.width = width - MARGIN_LEFT - LEGEND_WIDTH;
	f.height = height - MARGIN_TOP - MARGIN_BOTTOM;

	initStringInfo(&buf);
	begin_document(&buf, width, height, title);
	draw_axes(&buf, &f, x_label, y_label);
	if (!any)
		append_text(&buf, f.left + f.width / 2, f.top + f.height / 2, "middle", "fill=\"#666666\"",
					"no data");
	for (int s = 0; s < n_series; s++)
	{
		const char *color = palette[s % lengthof(palette)];
		int		   *idx = palloc(sizeof(int) * (series.n + 1));
		int			n = 0,
					nb = 0;

		for (int i = 0; i < series.n; i++)
		{
			if (i % PLOT_CHECK_EVERY == 0)
				CHECK_FOR_INTERRUPTS();
			if (of_series[i] == s && isfinite(x[i]) && isfinite(y[i]))
				idx[n++] = i;
		}
		/* the band: upper bounds left to right, lower bounds back */
		for (int j = 0; j < n; j++)
			nb += isfinite(lo[idx[j]]) && isfinite(hi[idx[j]]);
		if (nb >= 2)
		{
			appendStringInfo(&buf, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"", color);
			for (int j = 0; j < n; j++)
				if (isfinite(lo[idx[j]]) && isfinite(hi[idx[j]]))
					appendStringInfo(&buf, "%.1f,%.1f ", to_px_x(&f, x[idx[j]]), to_px_y(&f, hi[idx[j]]));
			for (int j = n - 1; j >= 0; j--)
				if (isfinite(lo[idx[j]]) && isfinite(hi[idx[j]]))
					appendStringInfo(&buf, "%.1f,%.1f ", to_px_x(&f, x[idx[j]]), to_px_y(&f, lo[idx[j]]));
			appendStringInfoString(&buf, "\"/>\n");
		}
		if (n >= 2)
		{
			appendStringInfo(&buf, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
			for (int j = 0; j < n; j++)
			{
				if (j % PLOT_CHECK_EVERY == 0)
					CHECK_FOR_INTERRUPTS();
				appendStringInfo(&buf, "%.1f,%.1f ", to_px_x(&f, x[idx[j]]), to_px_y(&f, y[idx[j]]));
			}
			appendStringInfoString(&buf, "\"/>\n");
		}
		for (int j = 0; j < n; j++)
		{
			if (j % PLOT_CHECK_EVERY == 0)
				CHECK_FOR_INTERRUPTS();
			appendStringInfo(&buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
							 to_px_x(&f, x[idx[j]]), to_px_y(&f, y[idx[j]]), color);
		}
		/* the legend entry */
		appendStringInfo(&buf, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%s\" fill=\"%s\"/>\n",
						 f.left + f.width + 15, f.top + 10 + s * 20.0 - 5, nb >= 2 ? "10" : "3", color);
		append_text(&buf, f.left + f.width + 35, f.top + 10 + s * 20.0 + 4, "start", "",
					legend_name(names[s]));
	}
	if (has_band)
		append_text(&buf, f.left + f.width + 15, f.top + 10 + n_series * 20.0 + 4, "start",
					"fill=\"#666666\"", "shaded: lower to upper");
	appendStringInfoString(&buf, "</svg>\n");
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}

/*
 * A colour of the sequential scale at t in [0, 1] (viridis' ends and
 * middle); t outside is clamped, NaN is the low end (never an index).
 */
static void
scale_color(double t, char *out)
{
	static const double stops[5][3] = {
		{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}
	};
	double		pos = t >= 0 ? Min(1, t) * 4 : 0;	/* NaN: the low end */
	int			i = Min((int) pos, 3);
	double		w = pos - i;

	sprintf(out, "#%02x%02x%02x",
			(int) lround(stops[i][0] + w * (stops[i + 1][0] - stops[i][0])),
			(int) lround(stops[i][1] + w * (stops[i + 1][1] - stops[i][1])),
			(int) lround(stops[i][2] + w * (stops[i + 1][2] - stops[i][2])));
}

/* Is every category a number? */
static bool
all_numeric(char **names, int n)
{
	for (int i = 0; i < n; i++)
	{
		char	   *end;

		(void) strtod(names[i], &end);
		if (end == names[i] || *end != '\0')
			return false;
	}
	return true;
}

/*
 * The categories' display order: numerically when all are numbers, else
 * by their text (order[rank] = category).
 */
static void
category_order(char **names, int n, int *order)
{
	bool		numeric = all_numeric(names, n);

	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--)
		{
			const char *a = names[order[j - 1]];
			const char *b = names[order[j]];
			bool		after = numeric ? strtod(a, NULL) > strtod(b, NULL) : strcmp(a, b) > 0;
			int			t;

			if (!after)
				break;
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/*
 * recsys._plot_heatmap(x text[], y text[], value float8[], title text,
 *						x_label text, y_label text, value_label text,
 *						width int, height int)
 * returns an SVG heat map: a cell per (x, y) (categories sorted, as numbers
 * when they all are), its value written in it, a colour bar.
 * A pair given twice is refused.
 */
Datum
recsys_plot_heatmap(PG_FUNCTION_ARGS)
{
	Column		xs,
				ys,
				vs;
	char	   *title = RsTextArg(fcinfo, 3, "title");
	char	   *x_label = RsTextArg(fcinfo, 4, "x_label");
	char	   *y_label = RsTextArg(fcinfo, 5, "y_label");
	char	   *value_label = RsTextArg(fcinfo, 6, "value_label");
	int			width,
				height;
	char	   *x_names[PLOT_MAX_CATEGORIES];
	char	   *y_names[PLOT_MAX_CATEGORIES];
	int			nx = 0,
				ny = 0;
	double	   *cell;
	double		v_min = INFINITY,
				v_max = -INFINITY;
	double		left = MARGIN_LEFT + 20,
				top = MARGIN_TOP,
				cw,
				ch;
	StringInfoData buf;
	char		color[8];
	int			x_order[PLOT_MAX_CATEGORIES];
	int			y_order[PLOT_MAX_CATEGORIES];

	size_args(fcinfo, 7, &width, &height);
	column_arg(fcinfo, 0, "x", TEXTOID, false, &xs);
	column_arg(fcinfo, 1, "y", TEXTOID, false, &ys);
	column_arg(fcinfo, 2, "value", FLOAT8OID, false, &vs);
	require_same_length(&xs, "x", &ys, "y");
	require_same_length(&xs, "x", &vs, "value");

	cell = palloc(sizeof(double) * PLOT_MAX_CATEGORIES * PLOT_MAX_CATEGORIES);
	for (int i = 0; i < PLOT_MAX_CATEGORIES * PLOT_MAX_CATEGORIES; i++)
		cell[i] = NAN;
	for (int i = 0; i < xs.n; i++)
	{
		int			cx,
					cy;
		double		v = column_float(&vs, i);

		if (xs.nulls[i] || ys.nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("x and y must not contain NULL (element %d does)", i + 1)));
		cx = category_index(x_names, &nx, PLOT_MAX_CATEGORIES, TextDatumGetCString(xs.values[i]), "x");
		cy = category_index(y_names, &ny, PLOT_MAX_CATEGORIES, TextDatumGetCString(ys.values[i]), "y");
		if (!isnan(cell[cy * PLOT_MAX_CATEGORIES + cx]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the cell (%s, %s) is given twice", x_names[cx], y_names[cy]),
					 errhint("Aggregate to one value per cell first (plot_tune keeps the best).")));
		cell[cy * PLOT_MAX_CATEGORIES + cx] = isfinite(v) ? v : INFINITY;	/* INFINITY: no value */
		if (isfinite(v))
		{
			v_min = Min(v_min, v);
			v_max = Max(v_max, v);
		}
	}

	if (v_max >= v_min)
		require_span(v_min, v_max, "value");
	category_order(x_names, nx, x_order);
	category_order(y_names, ny, y_order);
	initStringInfo(&buf);
	begin_document(&buf, width, height, title);
	cw = (width - left - LEGEND_WIDTH) / Max(nx, 1);
	ch = (height - top - MARGIN_BOTTOM) / Max(ny, 1);
	if (nx == 0)
		append_text(&buf, left + (width - left - LEGEND_WIDTH) / 2, top + ch / 2, "middle",
					"fill=\"#666666\"", "no data");
	for (int ry = 0; ry < ny; ry++)
	{
		/* the first y category at the bottom, as on a numeric axis */
		int			cy = y_order[ry];
		double		py = top + (ny - 1 - ry) * ch;

		append_text(&buf, left - 8, py + ch / 2 + 4, "end", "", y_names[cy]);
		for (int rx = 0; rx < nx; rx++)
		{
			int			cx = x_order[rx];
			double		v = cell[cy * PLOT_MAX_CATEGORIES + cx];
			double		t = v_max > v_min ? (v - v_min) / (v_max - v_min) : 0.5;

			if (isnan(v))
				continue;
			if (isinf(v))
				strcpy(color, "#eeeeee");
			else
				scale_color(t, color);
			appendStringInfo(&buf,
							 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" stroke=\"#ffffff\"/>\n",
							 left + rx * cw, py, cw, ch, color);
			append_text(&buf, left + (rx + 0.5) * cw, py + ch / 2 + 4, "middle",
						isinf(v) || t > 0.6 ? "fill=\"#000000\"" : "fill=\"#ffffff\"",
						isinf(v) ? "none" : psprintf("%.4g", v));
		}
	}
	for (int rx = 0; rx < nx; rx++)
		append_text(&buf, left + (rx + 0.5) * cw, top + ny * ch + 18, "middle", "", x_names[x_order[rx]]);
	append_text(&buf, left + nx * cw / 2, top + ny * ch + 42, "middle", "", x_label);
	append_text(&buf, 0, 0, "middle",
				psprintf("transform=\"translate(%.1f,%.1f) rotate(-90)\"", 20.0, top + ny * ch / 2),
				y_label);
	/* the colour bar: low at the bottom */
	if (v_max >= v_min)
	{
		double		bx = width - LEGEND_WIDTH + 30,
					bh = Min(200.0, height - top - MARGIN_BOTTOM);

		for (int i = 0; i < 20; i++)
		{
			scale_color((i + 0.5) / 20, color);
			appendStringInfo(&buf,
							 "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>\n",
							 bx, top + 20 + bh * (19 - i) / 20, bh / 20 + 0.5, color);
		}
		append_text(&buf, bx, top + 10, "start", "", value_label);
		append_text(&buf, bx + 22, top + 20 + 4, "start", "", psprintf("%.4g", v_max));
		append_text(&buf, bx + 22, top + 20 + bh, "start", "", psprintf("%.4g", v_min));
	}
	appendStringInfoString(&buf, "</svg>\n");
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
