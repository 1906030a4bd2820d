\set k random(1, 100000)
SELECT k, n, total FROM by_key WHERE k = :k;
