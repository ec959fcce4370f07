-- user_profile finds a row's facet by hash: a facet value per item of a
-- 60,000-item model (the review: 19.2 s a call, each row and each item
-- without a facet scanning every value) takes well under the 5 s
-- statement_timeout here.  By construction: items 1-60000 each bought by
-- one of 600 users; item i's facet is 'f' || i for i <= 59000, and the
-- last 1,000 items have none (the NULL facet row).
SET client_min_messages = warning;
CREATE TABLE ups_events AS SELECT i % 600 + 1 AS user_id, i AS item_id FROM generate_series(1, 60000) i;
CREATE TABLE ups_facets AS SELECT i AS item_id, 'f' || i AS facet FROM generate_series(1, 59000) i;
SELECT n_items FROM recsys.train_popular('ups_events', model => 'ups_pop');
RESET client_min_messages;
SET statement_timeout = '5s';
SELECT count(*) AS facets, count(*) FILTER (WHERE facet IS NULL) AS without, sum(items) AS items,
	   sum(history_items) AS history_items, max(items) FILTER (WHERE facet IS NULL) AS items_without_facet
FROM recsys.user_profile(1, 'ups_pop', 'ups_facets', 'facet');
-- user 1 bought items 600, 1200, ..., 60000: 98 of them with a facet of
-- their own, the last two (59400, 60000) in the NULL facet
SELECT facet, items, history_items FROM recsys.user_profile(1, 'ups_pop', 'ups_facets', 'facet')
WHERE history_items > 0 AND (facet IS NULL OR facet IN ('f600', 'f58800')) ORDER BY facet NULLS LAST;
RESET statement_timeout;
SELECT recsys.drop_model('ups_pop');
DROP TABLE ups_events, ups_facets;
