-- online_retail.sql: load the UCI Online Retail log and turn it into a
-- training source with plain SQL (the recipe doc/sources.md explains).
--
--   psql -v csv=/path/to/online_retail.csv.gz -f test/bench/online_retail.sql
--
-- The log is dirty the way shop data is: cancellations (invoice numbers
-- starting with C), returns (negative quantities), lines without a
-- customer.  Products are text codes, so they get integer ids first.
\set ON_ERROR_STOP on
CREATE SCHEMA IF NOT EXISTS retail;
SET client_min_messages = warning;
DROP TABLE IF EXISTS retail.invoice_lines CASCADE;
DROP TABLE IF EXISTS retail.products CASCADE;

RESET client_min_messages;

CREATE TABLE retail.invoice_lines (
	invoice_no		text NOT NULL,
	stock_code		text NOT NULL,
	description		text,
	quantity		integer NOT NULL,
	invoice_date	timestamp NOT NULL,
	unit_price		numeric(10, 2) NOT NULL,
	customer_id		numeric,	-- written as 17850.0; empty when unknown
	country			text
);
\set copy_cmd '\\copy retail.invoice_lines FROM PROGRAM ''gzip -dc ' :csv ''' WITH (FORMAT csv, HEADER true)'
:copy_cmd

-- integer ids for the text product codes, in code order
CREATE TABLE retail.products AS
SELECT row_number() OVER (ORDER BY stock_code COLLATE "C") AS item_id,
	   stock_code, description
FROM (SELECT stock_code, min(description) AS description
	  FROM retail.invoice_lines GROUP BY stock_code) codes;
ALTER TABLE retail.products ADD PRIMARY KEY (item_id);
CREATE UNIQUE INDEX ON retail.products (stock_code);

-- the training source: known customers, no cancellations, positive quantities
CREATE VIEW retail.purchases AS
SELECT l.customer_id::bigint AS user_id, p.item_id, l.quantity, l.invoice_date
FROM retail.invoice_lines l JOIN retail.products p USING (stock_code)
WHERE l.customer_id IS NOT NULL
  AND l.invoice_no NOT LIKE 'C%'
  AND l.quantity > 0;

ANALYZE retail.invoice_lines;
ANALYZE retail.products;
