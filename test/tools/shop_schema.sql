-- shop_schema.sql - tables of the synthetic demo shop written by shopgen.c.
-- Safe to run repeatedly: it drops and recreates the tables (data is lost).
-- Loaded by load_shop.sh, which adds the events index after the COPY.

SET client_min_messages = warning;   -- quiet IF [NOT] EXISTS notices

CREATE SCHEMA IF NOT EXISTS shop;

DROP TABLE IF EXISTS shop.tastes;
DROP TABLE IF EXISTS shop.events;
DROP TABLE IF EXISTS shop.users;
DROP TABLE IF EXISTS shop.products;

CREATE TABLE shop.products (
    product_id bigint PRIMARY KEY,
    title      text NOT NULL,
    category   text NOT NULL,
    brand      text NOT NULL,
    price      numeric(10,2) NOT NULL
);

CREATE TABLE shop.users (
    user_id   bigint PRIMARY KEY,
    name      text NOT NULL,
    country   text NOT NULL,
    signed_up date NOT NULL
);

-- No primary key: a user may view the same product many times.
CREATE TABLE shop.events (
    user_id    bigint NOT NULL,
    product_id bigint NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('view', 'cart', 'purchase')),
    ts         timestamptz NOT NULL
);

-- Each user's taste per product (the generator's own model), for the
-- experiments' simulator (test/tools/simulate.sql); filled only when
-- load_shop.sh runs with SHOP_TASTES=1.
CREATE TABLE shop.tastes (
    user_id    bigint NOT NULL,
    product_id bigint NOT NULL,
    appeal     double precision NOT NULL,  -- P(next view is this product)
    buy        double precision NOT NULL,  -- P(purchase | view)
    activity   double precision NOT NULL,  -- the user's activity level
    PRIMARY KEY (user_id, product_id)
);
