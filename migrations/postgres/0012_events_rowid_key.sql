-- SQLite only: it rebuilds `events` around an INTEGER PRIMARY KEY (its
-- rowid). PostgreSQL's BIGINT primary key is already the table's only key
-- index, so there is nothing to change here.
SELECT 1;
