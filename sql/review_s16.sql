-- review s16 (hostile review of 0f9a5fd): each block shows the CORRECT
-- behaviour; a block failing marks a defect in the commit under review.

-- R1: train_auto's global time cut (protocol last, repeated split 3) must
-- validate only users with an id.  0.11.0's form kept a NULL user out
-- (p.user_id IN (... GROUP BY user)): NULL IN (...) is never true; the
-- window count of 0f9a5fd partitions NULLs together and keeps them.
-- 80 users with 20 items each at times 1..20 (the cut: 18), and 20 rows
-- of a log without a user (items 101..120 at times 1..20)
CREATE TABLE rv_nu (user_id bigint, item_id bigint, ts integer);
INSERT INTO rv_nu SELECT u, 1 + (u * 7 + j * 3) % 60, j FROM generate_series(1, 80) u, generate_series(1, 20) j;
INSERT INTO rv_nu SELECT NULL, 100 + j, j FROM generate_series(1, 20) j;
ANALYZE rv_nu;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('rv_nu', model => 'rv_nu_auto', protocol => 'last', time_col => 'ts',
					   families => '{popular}', budget => '1 minute');
-- each user's 3 items after the cut, and nothing of the NULL user
SELECT count(*) AS pairs, count(*) FILTER (WHERE user_id IS NULL) AS null_user_rows,
	   count(DISTINCT user_id) AS users
FROM pg_temp._recsys_auto_valid_3;
ROLLBACK;
DROP TABLE rv_nu;

-- P1 (before s16): the largest seed failed in the second round with
-- "bigint out of range" (its repeated splits' seeds are seed + 1 and
-- seed + 2); now they wrap round at bigint's end
CREATE TABLE rv_seed AS
SELECT u AS user_id, 1 + (u * 7 + j * 3) % 60 AS item_id FROM generate_series(1, 80) u, generate_series(1, 12) j;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('rv_seed', model => 'rv_seed_auto', families => '{popular}', budget => '1 minute',
					   seed => 9223372036854775807);
SELECT count(DISTINCT user_id) AS users FROM pg_temp._recsys_auto_valid_2;
ROLLBACK;
DROP TABLE rv_seed;
