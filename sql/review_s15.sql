-- review s15, hostile review of e7b663e: train_auto's ease_basket family
-- (EASE scoring a user from his latest items, half-life one day; 'last' only)
CREATE SCHEMA review_s15;
SET search_path = review_s15, public;
SET extra_float_digits = 0;
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id,
	   timestamptz '2026-01-01' + (u * 10 + j) * interval '1 hour' AS ts
FROM generate_series(1, 40) u, generate_series(0, 9) j;

-- the error of train_auto's families check, caught (before any training)
CREATE FUNCTION families_error(protocol text, families text[], OUT state text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.train_auto('review_s15.events', 'rs15', budget => '30 seconds', time_col => 'ts',
							  protocol => families_error.protocol, families => families_error.families);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END
$$;

-- B2 (misleading error, low): families => '{ease_basket}' on 'holdout' is
-- refused (22023, the message lists the families available), but the
-- hint still says only ease_recent depends on the protocol ("The
-- families depend on the protocol (ease_recent: last), ..."): a user
-- asking for ease_basket is not told that it needs 'last' too.
-- Expected: the hint names ease_basket among the families 'last' enables.
SELECT e.state, e.message NOT LIKE '%ease_basket,%' AND e.message LIKE '%not {ease_basket}' AS refused_not_offered,
	   position('ease_recent' IN e.hint) > 0 AS hint_names_ease_recent,
	   position('ease_basket' IN e.hint) > 0 AS hint_names_ease_basket
FROM families_error('holdout', '{ease_basket}') e;

DROP SCHEMA review_s15 CASCADE;
