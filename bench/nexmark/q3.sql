-- q3: local item suggestion: people in OR, ID or CA who sell in category 10 (incremental
-- stream-stream join of auction and person, both sides kept).
SELECT P.name, P.city, P.state, A.id
FROM auction AS A
JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')
