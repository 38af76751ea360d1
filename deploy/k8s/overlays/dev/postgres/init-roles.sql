-- One login role and one database per service, each database owned by its role.
--
-- The postgres image runs this once, as the superuser, when its data volume is first initialised
-- (/docker-entrypoint-initdb.d). Passwords come from the container's environment through psql's
-- \getenv (psql 15+), so none is written here: AUTH_DB_PASSWORD, CATALOG_DB_PASSWORD,
-- PAYMENTS_DB_PASSWORD. Role and database names default to the service's name; the
-- *_DB_NAME variables override them (tests use throwaway names).
--
-- A role owns its database, so it can run its own migrations (PostgreSQL 15+: the public schema
-- belongs to the database owner) and nothing else: CONNECT is revoked from PUBLIC, so no
-- service can open another service's database. The superuser is for operators only.
\set ON_ERROR_STOP 1

\getenv auth_name AUTH_DB_NAME
\getenv auth_password AUTH_DB_PASSWORD
\getenv catalog_name CATALOG_DB_NAME
\getenv catalog_password CATALOG_DB_PASSWORD
\getenv payments_name PAYMENTS_DB_NAME
\getenv payments_password PAYMENTS_DB_PASSWORD

\if :{?auth_name} \else \set auth_name auth \endif
\if :{?catalog_name} \else \set catalog_name catalog \endif
\if :{?payments_name} \else \set payments_name payments \endif

-- Refuse to create a role without a password (it could never log in over TCP, and an empty
-- variable is a deployment mistake worth stopping for).
SELECT format('DO $$BEGIN RAISE EXCEPTION %L; END$$', name || ' is not set')
  FROM (VALUES ('AUTH_DB_PASSWORD', :{?auth_password}),
               ('CATALOG_DB_PASSWORD', :{?catalog_password}),
               ('PAYMENTS_DB_PASSWORD', :{?payments_password})) AS required(name, present)
 WHERE NOT present \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'auth_name', :'auth_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'auth_name', :'auth_name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'auth_name') \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'catalog_name', :'catalog_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'catalog_name', :'catalog_name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'catalog_name') \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'payments_name', :'payments_password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'payments_name', :'payments_name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'payments_name') \gexec
