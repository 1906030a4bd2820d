-- q17: auction statistics per day: bids in three price ranges and price min/max/avg/sum.
-- FILTER and to_char are rewritten as in q15.
SELECT auction, day,
       count(*) AS total_bids,
       count(CASE WHEN price < 10000 THEN 1 END) AS rank1_bids,
       count(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END) AS rank2_bids,
       count(CASE WHEN price >= 1000000 THEN 1 END) AS rank3_bids,
       min(price) AS min_price,
       max(price) AS max_price,
       avg(price) AS avg_price,
       sum(price) AS sum_price
FROM (SELECT auction, CAST(CAST(date_time AS DATE) AS VARCHAR) AS day, price FROM bid) AS b
GROUP BY auction, day
