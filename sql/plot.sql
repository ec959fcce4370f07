-- Progress (the view, when nothing trains) and pictures: evaluate_at's
-- rows, the SVG documents' structure, escaping and errors.  Rendering to
-- PNG is checked in test/t/081_plots.pl.
SELECT count(*) AS training_now FROM recsys.progress;
SHOW recsys.progress;

-- known by construction: everyone bought item 10, users 1-15 item 11,
-- users 1-10 item 12; users 16-20 then buy item 11.  Popularity ranks
-- their unseen items 11, 12, 13: at k = 1 precision and recall are 1, at
-- k = 2 precision is 1/2
CREATE TABLE plot_train AS
SELECT u AS user_id, 10 AS item_id FROM generate_series(1, 20) u
UNION ALL SELECT u, 11 FROM generate_series(1, 15) u
UNION ALL SELECT u, 12 FROM generate_series(1, 10) u
UNION ALL SELECT u, 13 FROM generate_series(1, 3) u;
CREATE TABLE plot_test AS SELECT u AS user_id, 11 AS item_id FROM generate_series(16, 20) u;
SELECT (recsys.train_popular('plot_train', model => 'plot_pop')).name;
SELECT k, metric, round(value::numeric, 4) AS value
FROM recsys.evaluate_at('plot_pop', 'plot_test', '{1,2}')
WHERE metric IN ('precision', 'recall', 'ndcg', 'hit_rate');

-- a precision-recall curve: well-formed XML, one line of two points
CREATE TEMP TABLE svg AS
SELECT 'pr' AS name, recsys.plot_pr_curve('{plot_pop}', 'plot_test', '{1,2}') AS doc
UNION ALL
SELECT 'at_k', recsys.plot_metrics_at_k('{plot_pop}', 'plot_test', ks => '{1,2,3}')
UNION ALL
SELECT 'lines', recsys.plot_lines('{A,A,A,B,B,B}', '{1,2,3,1,2,3}', '{0.1,0.2,0.3,0.2,0.3,0.35}',
								  '{0.05,0.15,0.25,0.15,0.25,0.3}', '{0.15,0.25,0.35,0.25,0.35,0.4}',
								  'Cumulative conversion', 'day', 'conversion (share of users)')
UNION ALL
SELECT 'tune', recsys.plot_tune(ARRAY['{"f": 2, "r": 0.1}', '{"f": 4, "r": 0.1}', '{"f": 2, "r": 1}',
									  '{"f": 4, "r": 1}', '{"f": 4, "r": 1, "i": 5}']::jsonb[],
								'{0.1, 0.2, 0.3, 0.4, 0.45}', 'f', 'r', 'ndcg@10')
UNION ALL
SELECT 'empty', recsys.plot_lines('{}', '{}', '{}');
SELECT name, xml_is_well_formed_document(doc) AS well_formed,
	   doc LIKE '<?xml version="1.0" encoding="UTF-8"?>%<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="640" height="400"%' AS svg_640x400,
	   (length(doc) - length(replace(doc, '<polyline', ''))) / length('<polyline') AS lines,
	   (length(doc) - length(replace(doc, '<polygon', ''))) / length('<polygon') AS bands,
	   (length(doc) - length(replace(doc, '<circle', ''))) / length('<circle') AS points,
	   doc LIKE '%no data%' AS no_data
FROM svg ORDER BY name;
-- the axes' labels and units, the legend, the heat map's cells (a third
-- parameter: the best of 0.4 and 0.45 shows) sorted as numbers
SELECT doc LIKE '%>recall@k (share of a user&#39;s test items in the list)<%' AS x_label,
	   doc LIKE '%>precision@k (share of the list that is relevant)<%' AS y_label,
	   doc LIKE '%>plot_pop</text>%' AS legend
FROM svg WHERE name = 'pr';
-- (drawn from the bottom row, r = 0.1, up to r = 1; f = 2 left of f = 4)
SELECT doc LIKE '%>0.1<%>0.1<%>0.2<%>1<%>0.3<%>0.45<%>2<%>4<%' AS cells_in_order, doc LIKE '%>0.4<%' AS shows_worse,
	   doc LIKE '%<title>ndcg@10 by f and r</title>%' AS title
FROM svg WHERE name = 'tune';

-- labels are escaped: an evil series name, title and axis label cannot
-- open an element (a legend entry is cut after 22 characters)
SELECT xml_is_well_formed_document(doc) AS well_formed, doc LIKE '%<script%' AS script_element,
	   doc LIKE '%>&lt;/text&gt;&lt;script&gt;aler...</text>%' AS escaped_and_cut,
	   doc LIKE '%Tom &amp; Jerry&#39;s%' AS ampersand
FROM (SELECT recsys.plot_lines(ARRAY['</text><script>alert("x")</script>', 'b'], '{1,2}', '{1,2}',
							   title => 'Tom & Jerry''s </title><script>', x_label => '<b>x</b>',
							   y_label => E'a\u0001b') AS doc) s;
SELECT xml_is_well_formed_document(recsys._plot_heatmap('{"<x>"}', '{"&y"}', '{1}', '<t>', '"', '''', '<v>',
														 400, 300)) AS heatmap_escaped;

-- values far from 0 with a tiny spread: a bounded number of ticks
SELECT xml_is_well_formed_document(doc) AS well_formed,
	   (length(doc) - length(replace(doc, '<circle', ''))) / length('<circle') AS points
FROM (SELECT recsys.plot_lines('{a,a}', '{1e16,1.0000000000000002e16}', '{1,2}') AS doc) s;

-- errors
SELECT recsys.plot_lines('{a,b}', '{1}', '{1,2}');
SELECT recsys.plot_lines('{a}', '{1}', '{1}', lower => '{0}');
SELECT recsys.plot_lines('{a}', '{1}', '{1}', lower => '{0}', upper => '{1,2}');
SELECT recsys.plot_lines('{NULL}', '{1}', '{1}');
SELECT recsys.plot_lines('{a}', '{1}', NULL);
SELECT recsys.plot_lines('{{a}}', '{{1}}', '{{1}}');
SELECT recsys.plot_lines('{a}', '{1}', '{1}', width => 100);
SELECT recsys.plot_lines('{a}', '{1}', '{1}', height => 5000);
SELECT recsys.plot_lines('{a}', '{1}', '{1}', title => NULL);
SELECT recsys.plot_lines(array_agg('s' || i), array_agg(i::float8), array_agg(i::float8))
FROM generate_series(1, 21) i;
SELECT recsys.plot_lines('{a,a}', '{-1e308,1e308}', '{1,2}');
SELECT recsys.plot_lines('{a}', '{1}', '{1}', lower => '{-1e308}', upper => '{1e308}');
-- values whose span overflows a double (crashed the heat map: NaN colour index)
SELECT recsys.plot_tune(ARRAY['{"a":1,"b":1}','{"a":2,"b":2}']::jsonb[], '{9e307,-9e307}', 'a', 'b');
SELECT recsys.plot_tune(ARRAY['{"a":1,"b":1}','{"a":2,"b":2}']::jsonb[], '{1e308,-1e308}', 'a', 'b');
SELECT recsys._plot_heatmap('{a,b}', '{c,c}', '{-1.7e308,1.7e308}', '', 'x', 'y', 'v', 640, 400);
-- near the largest double, widening the axis to round ticks overflows
SELECT recsys.plot_lines('{a}', '{1.7e308}', '{1}');
SELECT recsys.plot_lines('{a,a}', '{1,2}', '{1.6e308,1.79e308}');
-- a single value of the heat map, large or tiny: a colour, no error
SELECT xml_is_well_formed_document(recsys._plot_heatmap('{a}', '{b}', '{1.7e308}', '', 'x', 'y', 'v', 640, 400))
	AS one_huge_value;
SELECT xml_is_well_formed_document(recsys.plot_lines('{a}', '{5e-324}', '{1}')) AS tiny_value,
	   recsys.plot_lines('{a}', '{5e-324}', '{1}') NOT LIKE '%nan%' AS tiny_value_no_nan;
-- subnormal spans: the argument and the smallest span in the message;
-- equal tiny values and a span of 1e-300 plot (no NaN)
SELECT recsys.plot_lines('{a,a}', '{5e-324,1e-323}', '{1,2}');
SELECT recsys.plot_lines('{a,a}', '{1,2}', '{0,2e-310}');
SELECT recsys.plot_lines('{a}', '{1}', '{1e-320}', lower => '{1e-320}', upper => '{2e-320}');
SELECT recsys.plot_lines('{a}', '{3e-323}', '{1}') NOT LIKE '%nan%' AS tiny_value_no_nan,
	   recsys.plot_lines('{a,a}', '{1e-300,2e-300}', '{1,2}') NOT LIKE '%nan%' AS smallest_span_no_nan;
SELECT recsys._plot_heatmap('{a,a}', '{b,b}', '{1,2}', '', 'x', 'y', 'v', 640, 400);
SELECT recsys._plot_heatmap('{a}', '{NULL}', '{1}', '', 'x', 'y', 'v', 640, 400);
SELECT recsys.plot_tune(ARRAY['{"f": 2}']::jsonb[], '{0.1}', 'f', 'r');
SELECT recsys.plot_tune(ARRAY['{"f": 2, "r": 1}']::jsonb[], '{0.1, 0.2}', 'f', 'r');
SELECT recsys.plot_tune(NULL, '{0.1}', 'f', 'r');
SELECT recsys.plot_pr_curve('{no_such_model}', 'plot_test');

DROP TABLE plot_train, plot_test;
SELECT recsys.drop_model('plot_pop');
